"""Docker itself: engine checks, mlmax's labelled containers, the shared network, compose
processes and ports on the host's loopback."""
