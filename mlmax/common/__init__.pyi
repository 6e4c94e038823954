"""What every layer shares: the error root, the extras, tables, waits, progress, signals."""

from .cache import cache_lock as cache_lock
from .cache import cache_root as cache_root
from .errors import EnvironmentNotReadyError as EnvironmentNotReadyError
from .errors import MlmaxError as MlmaxError
from .errors import UsageError as UsageError
from .extras import CENSUS_DATA as CENSUS_DATA
from .extras import CENSUS_JOBS as CENSUS_JOBS
from .extras import CENSUS_REPORT as CENSUS_REPORT
from .extras import EXTRAS as EXTRAS
from .extras import MissingExtraError as MissingExtraError
from .extras import missing_from as missing_from
from .extras import require_extra as require_extra
from .process_exit import skip_the_last_collection as skip_the_last_collection
from .progress import Progress as Progress
from .progress import or_default as or_default
from .sdk_version import installed_sdk_version as installed_sdk_version
from .sdk_version import sdk_v2_sentence as sdk_v2_sentence
from .tables import html_table as html_table
from .tables import print_table as print_table
from .tables import render as render
from .termination import TerminationHandlers as TerminationHandlers
from .termination import exit_code_of as exit_code_of
from .termination import interruption_name as interruption_name
from .termination import terminate_like_interrupt as terminate_like_interrupt
from .waiting import WaitTimeout as WaitTimeout
from .waiting import wait_until as wait_until
