"""The SageMaker SDK in Local Mode: the offline session, a job as SDK objects, and every hook
mlmax puts on the SDK (each internal it relies on pinned in `internals`)."""

import lazy_loader

# The face: what other packages use, declared in __init__.pyi; each name is imported
# on first use, so a command pays only for the modules it touches.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
