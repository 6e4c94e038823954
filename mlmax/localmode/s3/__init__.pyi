"""The embedded S3 server on loopback, reachable only with the session's keys."""

from .auth import SessionKeys as SessionKeys
from .server import S3Server as S3Server
from .server import is_embedded_access_key as is_embedded_access_key
from .server import keys_for as keys_for
from .server import wait_until_ready as wait_until_ready
