"""The benchmarks of issues 3 and 12: SQL statements, latency, throughput and memory of the
app's main operations, side by side with a naive graphene-django baseline (bench/naive.py) and a
one-statement SQL floor, at 10 to 5,000 friends.

- `python -m bench` (bench/inprocess.py): in-process, ours vs naive vs floor;
  writes bench-output/inprocess.json.
- `python -m bench.http_load`: the Procfile's web process under wrk, ours against the floor's
  HTTP endpoint (bench/settings.py, bench/urls.py); bench-output/http.json.
- `python -m bench.profile`: where the home screen's time goes; bench-output/profile.json.
- `python -m bench.fixed_cost`: what every request pays (handler, middleware, auth, request
  log); bench-output/fixed_cost.json.
- `python -m bench.export_memory`: a CSV export's peak memory in a real Celery worker, at
  1,000 and 100,000 events; bench-output/export_memory.json (`--ci`: 1,000 and 20,000).
- `python -m bench.report`: docs/benchmarks.md, docs/benchmarks.png and the README's headline
  figures from those files, against issue 12's "before" (bench/baseline-issue12.json, written by
  `python -m bench.baseline` from a run).

Shared by them and by scripts/ and tests/: bench/environment.py (Django's settings for the
bench, `ensure_database`, the machine), bench/harness.py (the Procfile's web process, its
requests, wrk) and bench/celery_process.py (a real Celery worker).

`make bench` runs the commands above in that order; `make bench-ci` is the small in-process run CI
uses to keep the bench working (it asserts SQL counts and answers, never times).
"""
