"""A job under a debugger in its container: the debugpy command and bootstrap, the relay on the
host's loopback, and readiness read from the container's socket table."""
