"""The embedded S3 server on loopback, reachable only with the session's keys."""
