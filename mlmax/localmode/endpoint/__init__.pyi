"""Real-time endpoints in Local Mode: deploy, invoke, serve until stopped."""

from . import handler_server as handler_server
from .handler import CENSUS_HANDLER as CENSUS_HANDLER
from .hosting import ENDPOINT_JOB as ENDPOINT_JOB
from .hosting import SERVING_CODE_ROOT as SERVING_CODE_ROOT
from .hosting import EndpointDebug as EndpointDebug
from .hosting import deploy as deploy
from .model import model_files as model_files
from .serve import serve_until_stopped as serve_until_stopped
