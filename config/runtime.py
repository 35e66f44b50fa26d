"""Process-level tuning for serving, applied once the application is loaded."""

from __future__ import annotations

import gc

# A home-screen answer allocates a few hundred thousand short-lived objects; with
# CPython's default threshold (700) that is hundreds of collections per request.
GC_GEN0_THRESHOLD = 250_000


def tune_garbage_collector() -> None:
    """Move everything loaded so far (Django, the schema, the modules) out of the
    collector's sight, so collections during a request scan only that request's
    objects, and collect less often. Measured on the home screen at 1,000 friends:
    about a third less CPU per request. The request path makes no reference
    cycles (see schema/executor.py), so nothing accumulates."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
