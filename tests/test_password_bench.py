"""bench/password_hashers.py at its smallest: one configuration, two checks, a short GIL probe.
Asserts what does not depend on the machine's speed or load: the figures are there, the peak
memory is the configuration's own Argon2 memory, and the probe sees a loop that holds the GIL
stall the main thread."""

from __future__ import annotations

import json
from pathlib import Path

from bench import password_hashers


def test_the_bench_measures_our_hasher_and_the_gil_control(tmp_path: Path) -> None:
    argv = ["--only", "argon2-owasp-19m", "--repeats", "2", "--gil-seconds", "0.3", "--out", str(tmp_path)]
    assert password_hashers.main(argv) == 0

    report = json.loads((tmp_path / "password_hashers.json").read_text())
    (ours,) = report["results"]
    assert ours["hasher"] == "calendarapp.hashers.Argon2idPasswordHasher"
    assert ours["parameters"] == "m=19456 KiB, t=2, p=1"
    assert ours["wall_ms"] > 0 and ours["cpu_ms"] > 0
    # Argon2 fills its whole memory (19 MiB) once per check; the process adds little else.
    assert 18 * 1024 <= ours["peak_kib"] <= 24 * 1024
    control = report["gil_control"]
    # While a C loop holds the GIL, the main thread runs no Python at all.
    assert control["longest_stall_ms_busy"] >= 0.5 * control["wall_ms"]
    assert "| Argon2id, OWASP's 19 MiB" in (tmp_path / "password_hashers.md").read_text()
