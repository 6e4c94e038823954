"""An ending mlmax or pytest process skips the interpreter's last garbage collection.

When the interpreter exits, CPython walks every object its cycle collector tracks once more.
A pytest run holds hundreds of thousands of them (its plugins, the imported tests, pandas,
scikit-learn, the SDK), so that walk is a noticeable part of every run's end, for memory
the OS takes back anyway. Objects moved to the
collector's permanent generation (`gc.freeze`) are left out of it. `gc.freeze` runs from
`atexit`, so a process that goes on (pytest.main called in-process returns) is not affected.
What the skipped walk would have done: call `__del__` of objects caught in reference cycles,
which Python never promised at exit; context managers and `finally` blocks have run by then.
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_the_last_collection() -> None:
    """At interpreter exit, freeze what is left so that the final collection skips it."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
