"""One run's lifecycle in Local Mode: a job in its container, what a series of runs shares, a
job under a debugger, and the reaper of what dead sessions left."""

import lazy_loader

# The face: what other packages use, declared in __init__.pyi; each name is imported
# on first use, so a command pays only for the modules it touches.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
