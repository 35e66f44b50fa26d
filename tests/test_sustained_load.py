"""The pure parts of bench/sustained_load.py: the open-loop generator's schedule and latency
accounting against a local stdlib HTTP server, error classes, and the figures' maths.
No database: the server here only sleeps and answers canned bodies."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import load_report, login_flood, probes, sustained_load as load
from bench.harness import parse_wrk

ANSWERS = {
    "/ok": (200, {"data": {"viewer": {"id": "1"}}}),
    "/server-error": (500, {"errors": [{"message": "boom"}]}),
    "/unauthenticated": (200, {"errors": [{"message": "no", "extensions": {"code": "UNAUTHENTICATED"}}]}),
    "/no-data": (200, {"data": None}),
}


class CannedHandler(http.server.BaseHTTPRequestHandler):
    """POST /<answer>?delay=<seconds>: sleeps, then answers ANSWERS[path]; /not-json answers
    text, and /apq answers PERSISTED_QUERY_NOT_FOUND unless the body carries its query."""

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(float(parse_qs(parts.query).get("delay", ["0"])[0]))
        if parts.path == "/not-json":
            return self.answer(200, b"<html>proxy error</html>")
        if parts.path == "/apq":
            known = "query" in body
            code = {"extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}, "message": "PersistedQueryNotFound"}
            return self.answer(200, json.dumps({"data": {"ok": 1}} if known else {"errors": [code]}).encode())
        status, answer = ANSWERS[parts.path]
        self.answer(status, json.dumps(answer).encode())

    def answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up first
            self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CannedHandler)
    httpd.daemon_threads, httpd.block_on_close = True, False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the socket is closed


# --- one request ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ok", None),
        ("/server-error", "http_500"),
        ("/unauthenticated", "graphql_UNAUTHENTICATED"),
        ("/no-data", "bad_answer"),
        ("/not-json", "bad_answer"),
        ("/ok?delay=1", "timeout"),
    ],
)
def test_a_timed_request_names_each_kind_of_failure(server: str, path: str, expected: str | None):
    probe = probes.timed_request(server + path, b"{}", "token", timeout=0.3)
    assert (probe.ok, probe.error) == (expected is None, expected)


def test_a_timed_request_calls_a_refused_connection_a_connection_error():
    assert probes.timed_request(f"http://127.0.0.1:{closed_port()}/graphql", b"{}", timeout=1).error == "connection"


def test_a_timed_request_hands_the_answer_to_keep(server: str):
    kept = []
    assert probes.timed_request(server + "/ok", b"{}", keep=kept.append).ok
    assert kept and "data" in kept[0]


def test_the_persisted_sender_resends_with_the_query_when_the_server_lost_the_hash(server: str):
    send = probes.PersistedHomeScreen(server + "/apq", "token")
    assert send(2.0).ok
    assert send(2.0).ok
    assert send.resent == 2


# --- the open loop ----------------------------------------------------------------------------


def sender_to(url: str) -> load.Send:
    return lambda timeout: probes.timed_request(url, b"{}", timeout=timeout)


def test_open_loop_sends_every_request_at_its_due_time_never_before(server: str):
    sender = sender_to(server + "/ok?delay=0.02")
    outcomes = sorted(load.open_loop(sender, rate=50, seconds=1, clients=8, timeout=5), key=lambda o: o.due)

    assert len(outcomes) == 50
    assert [outcome.error for outcome in outcomes] == [None] * 50
    gaps = {round(later.due - earlier.due, 6) for earlier, later in zip(outcomes, outcomes[1:], strict=False)}
    assert gaps == {0.02}
    assert all(outcome.sent >= outcome.due for outcome in outcomes)
    assert all(outcome.latency_ms >= 20 for outcome in outcomes)  # the server's own delay


def test_open_loop_latency_includes_waiting_for_a_busy_client(server: str):
    """One client thread and a server taking 100 ms, asked 20 times a second: request i can
    only finish (i + 1) x 100 ms after the start, though it was due at i x 50 ms. Measured
    from its due time its latency grows by 50 ms a request; a closed-loop client, timing from
    its own send, would have reported 100 ms every time (coordinated omission)."""
    sender = sender_to(server + "/ok?delay=0.1")
    outcomes = sorted(load.open_loop(sender, rate=20, seconds=0.5, clients=1, timeout=5), key=lambda o: o.due)

    assert len(outcomes) == 10 and not any(outcome.error for outcome in outcomes)
    for index, outcome in enumerate(outcomes):
        assert outcome.latency_ms >= 100 + 50 * index - 1
    assert (outcomes[-1].done - outcomes[-1].sent) * 1000 < outcomes[-1].latency_ms - 300


def test_open_loop_bounds_each_request_by_the_timeout_from_its_due_time(server: str):
    sender = sender_to(server + "/ok?delay=2")
    began = time.monotonic()
    outcomes = load.open_loop(sender, rate=10, seconds=0.3, clients=1, timeout=0.3)

    assert [outcome.error for outcome in outcomes] == ["timeout"] * 3
    assert time.monotonic() - began < 1.5  # not 3 x 2 s: nothing waits for the slow answers


def test_open_loop_gives_up_on_a_sender_that_ignores_its_timeout(monkeypatch):
    monkeypatch.setattr(load, "DRAIN_GRACE", 0.2)
    hung = threading.Event()
    outcomes = load.open_loop(lambda timeout: hung.wait(5), rate=10, seconds=0.2, clients=1, timeout=0.2)
    hung.set()

    assert len(outcomes) == 2
    assert {outcome.error for outcome in outcomes} == {"timeout"}
    assert all(outcome.sent is None for outcome in outcomes)  # unfinished at the deadline: reported all the same


def test_fixed_rate_summary_classifies_errors_and_measures_the_send_rate():
    outcomes = [
        load.Outcome(due=10.0, sent=10.0, done=10.1, error=None),
        load.Outcome(due=10.5, sent=10.5, done=10.7, error="http_503"),
        load.Outcome(due=11.0, sent=11.0, done=11.4, error=None),
        load.Outcome(due=11.5, sent=None, done=12.0, error="timeout"),
    ]
    summary = load.fixed_rate_summary(outcomes, rate=2, seconds=2, resent=0)

    assert summary["requests"] == 4 and summary["errors"] == 2
    assert summary["errors_by_class"] == {"http_503": 1, "timeout": 1}
    assert summary["achieved_rps"] == 2.0  # three sends, one second apart end to end
    assert summary["latency_ms"] == {"p50": 200.0, "p90": 500.0, "p99": 500.0, "max": 500.0}


# --- figures ----------------------------------------------------------------------------------


def test_percentile_is_the_nearest_rank():
    hundred = list(range(100, 0, -1))  # unsorted on purpose
    assert [probes.percentile(hundred, p) for p in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert probes.percentile([7.0], 99) == 7.0
    assert probes.percentile([3, 1, 2], 50) == 2
    assert probes.percentile([], 50) is None


def test_slope_is_the_least_squares_line_per_1000_requests():
    assert load.slope_per_1000([(0, 1000), (1000, 1500), (2000, 2000)]) == 500.0
    assert load.slope_per_1000([(0, 76000), (5000, 76000)]) == 0.0
    # The ends alone would say 1.33; the line through all four points rises 1.2 per 1,000.
    assert load.slope_per_1000([(0, 0), (1000, 4), (2000, 4), (3000, 4)]) == 1.2
    assert load.slope_per_1000([(100, 76000)]) is None
    assert load.slope_per_1000([(100, 76000), (100, 77000)]) is None


def test_requests_at_spreads_each_phase_evenly_over_its_time():
    phases = [load.Phase("fixed", 10, 20, 100), load.Phase("capacity", 25, 35, 300)]
    assert [load.requests_at(moment, phases) for moment in (5, 15, 22, 30, 40)] == [0, 50, 100, 250, 400]


def test_memory_report_gives_each_worker_its_figures_and_marks_a_replacement():
    phases = [load.Phase("fixed", 0, 10, 1000)]
    samples = [
        (0.0, {11: 80000, 12: 81000}),
        (5.0, {11: 80500, 12: 90000, 13: 70000}),
        (10.0, {11: 81000, 13: 70100}),  # 12 is gone: replaced by 13
    ]
    rows = {row["pid"]: row for row in load.memory_report(samples, phases)}

    assert rows[11] == {
        "pid": 11,
        "samples": 3,
        "start_kb": 80000,
        "end_kb": 81000,
        "max_kb": 81000,
        "growth_pct": 1.25,
        "slope_kb_per_1000_requests": 1000.0,
        "replaced": False,
        "started_late": False,
    }
    assert rows[12]["replaced"] and rows[12]["max_kb"] == 90000 and not rows[12]["started_late"]
    assert rows[13]["started_late"] and rows[13]["slope_kb_per_1000_requests"] == 200.0


WRK_OUTPUT = """\
Running 15s test @ http://127.0.0.1:41234/graphql
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   534.12ms  120.45ms   1.21s    70.12%
    Req/Sec     8.12      4.01    20.00     60.00%
  Latency Distribution
     50%  520.33ms
     75%  600.10ms
     90%  700.00ms
     99%    1.10s
  226 requests in 15.02s, 20.11MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:     15.05
Transfer/sec:      1.34MB
non-200 responses: 3
graphql-error responses: 4
"""


def test_wrk_summary_counts_socket_status_and_graphql_errors_from_wrk_output():
    summary = load.wrk_summary(parse_wrk(WRK_OUTPUT), concurrency=8)

    assert summary["requests"] == 226 and summary["rps"] == 15.05
    assert summary["errors_by_class"] == {"non_200": 3, "graphql": 4, "socket_read": 1, "socket_timeout": 2}
    assert summary["errors"] == 10
    assert summary["error_rate_pct"] == round(100 * 10 / 229, 3)
    assert summary["latency_ms"] == {"p50": 520.33, "p75": 600.1, "p90": 700.0, "p99": 1100.0, "max": 1210.0}


def flood_phase(connections: int, p90: float, first: int | None, one_address: bool = False, failed=()) -> dict:
    reader = {
        "requests": 100,
        "failed": list(failed),
        "latency_ms": {"p50": p90 // 2, "p90": p90, "p99": p90, "max": p90},
    }
    return {
        "connections": connections,
        "one_address": one_address,
        "logins": 300,
        "passwords_checked": 200,
        "passwords_checked_per_s": 16.7,
        "rate_limited": 100,
        "other": 0,
        "first_rate_limited_s": first,
        "reader": reader,
    }


def flood_results(*phases: dict) -> dict:
    alone = {"requests": 120, "failed": [], "latency_ms": {"p50": 50.0, "p90": 100.0, "p99": 120.0, "max": 130.0}}
    return {"seconds": 12, "alone": alone, "floods": list(phases)}


def test_the_login_flood_passes_when_the_reader_keeps_within_twice_its_p90_and_refusals_come():
    results = flood_results(flood_phase(4, 150, 1), flood_phase(16, 200, 2), flood_phase(16, 900, 1, one_address=True))
    assert login_flood.judge(results) == []
    assert [phase["p90_ratio"] for phase in results["floods"]] == [1.5, 2.0, 9.0]


def test_the_login_flood_fails_on_a_slow_reader_a_late_refusal_or_a_failed_read():
    results = flood_results(
        flood_phase(4, 201, 1), flood_phase(16, 120, None), flood_phase(16, 100, 9, True, ["timeout"])
    )
    assert login_flood.judge(results, limited_within=5) == [
        "reader requests failed (16): ['timeout']",
        "4 flooding connections: the reader's p90 is 2.01x alone",
        "16 flooding connections: no RATE_LIMITED within 5 s",
        "16 flooding connections: no RATE_LIMITED within 5 s",
    ]


def test_the_login_flood_section_of_the_page_shows_every_phase():
    results = flood_results(flood_phase(4, 150, 1), flood_phase(16, 200, 2), flood_phase(16, 120, 1, one_address=True))
    results["problems"] = login_flood.judge(results)
    page = "\n".join(load_report.flood_section(results))
    assert "| 16 connections, one address | 300 | 200 | 16.7 | 100 | 1 s | 100 | 60 | 120 | 1.20 |" in page
    assert "Verdict: the reader's p90 stayed within twice its p90 alone" in page
