"""Process-level tuning for serving, applied once the application is loaded."""

from __future__ import annotations

import gc

from django.core.signals import request_finished

# A home-screen request holds about 50,000 container objects at its peak and frees
# them by reference counting; a first threshold above that keeps the collector out
# of the request (at CPython's 700, or even 50,000, it ran during every request and
# cost 18-35 ms of it, measured with gc.callbacks).
GC_GEN0_THRESHOLD = 250_000


def tune_garbage_collector() -> None:
    """Move everything loaded so far (Django, the schema, the modules) out of the
    collector's sight, collect rarely during a request, and collect the young
    generation after each one instead: Django's request and response objects refer
    to each other, so each request leaves a few dozen objects in cycles, and left
    for thousands of requests they grew a worker's memory by a third."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
    request_finished.connect(collect_request_garbage, dispatch_uid="calendar-collect-request-garbage")


def collect_request_garbage(**_kwargs) -> None:
    """After the response is sent: a young-generation pass over what the request
    left, cheap because almost everything it made is already freed."""
    gc.collect(0)
