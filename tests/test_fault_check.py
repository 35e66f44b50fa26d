"""The arithmetic of scripts/fault_check.py's report: what counts as failed, recovered and
lost. (The script itself runs in CI against real services: `make faults-ci`.)"""

from __future__ import annotations

from dataclasses import replace

from bench.probes import Probe
from scripts.fault_check import RECOVERY_LIMIT, FaultResult, Window, request_outcomes


def probe(at: float, ok: bool = True, detail: str = "") -> Probe:
    return Probe(at=at, ms=5.0, ok=ok, detail=detail)


def test_recovery_is_measured_from_the_end_of_the_fault_to_the_first_success_after_the_last_failure():
    window = Window(began=10.0, ended=12.0)
    # In order of completion, not of start: the slow success that started at 11.0 came last.
    probes = [probe(9.0), probe(11.5, False, "HTTP 503"), probe(12.5, False, "HTTP 503"), probe(13.25), probe(11.0)]
    outcomes = request_outcomes(probes, window)
    assert outcomes == {
        "requests": 5,
        "failed": 2,
        "failures": {"HTTP 503": 2},
        "fault_seconds": 2.0,
        "recovered_after_s": 1.25,
        "failed_after_fault": 1,
        "failed_after_recovery_window": 0,
    }


def test_no_success_after_the_last_failure_is_no_recovery():
    outcomes = request_outcomes([probe(1.0), probe(3.0, False, "ConnectionResetError")], Window(2.0, 2.0))
    assert outcomes["recovered_after_s"] is None
    assert outcomes["failures"] == {"ConnectionResetError": 1}


def test_a_fault_nobody_noticed_recovers_at_once():
    outcomes = request_outcomes([probe(1.0), probe(2.5), probe(4.0)], Window(2.0, 3.0))
    assert (outcomes["failed"], outcomes["recovered_after_s"]) == (0, 0.0)


def test_late_failures_count_against_recovery():
    window = Window(0.0, 1.0)
    outcomes = request_outcomes([probe(1.0 + RECOVERY_LIMIT + 0.5, False, "HTTP 503"), probe(30.0)], window)
    assert outcomes["failed_after_recovery_window"] == 1


CLEAN = FaultResult(
    fault="postgres_restart",
    requests=100,
    failed=3,
    failures={"HTTP 503": 3},
    fault_seconds=2.5,
    recovered_after_s=0.1,
    failed_after_fault=0,
    failed_after_recovery_window=0,
    writes_acknowledged=40,
    writes_missing=0,
    writes_unacknowledged_but_kept=1,
    exports_acknowledged=10,
    exports_done=9,
    exports_failed={"The export could not be started": 1},
    exports_unfinished=0,
    export_after_fault_done=True,
)


def test_failed_requests_during_a_fault_are_reported_not_a_problem():
    assert CLEAN.problems() == []


def test_each_broken_promise_is_a_problem():
    broken = replace(
        CLEAN,
        writes_missing=2,
        recovered_after_s=None,
        failed_after_recovery_window=4,
        exports_unfinished=1,
        export_after_fault_done=False,
    )
    assert broken.problems() == [
        "2 acknowledged writes are missing",
        "no request succeeded after the last failure",
        f"4 requests failed over {RECOVERY_LIMIT} s after the fault",
        "1 acknowledged exports never finished",
        "no export requested after the fault finished DONE",
    ]
