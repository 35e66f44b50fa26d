"""The password hasher: Argon2id at OWASP's minimum parameters (PASSWORD_HASHERS, first).

Chosen by measurement (`python -m bench.password_hashers`; docs/production.md, "Passwords").
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id with m=19 MiB, t=2, p=1: OWASP's minimum, in place of Django's m=100 MiB,
    t=2, p=8.

    Why, as measured on this project's machine (docs/production.md, "Passwords"): a check
    costs 21 ms of CPU and 19 MiB, against 200 ms and 100 MiB with Django's parameters and
    230 ms with PBKDF2, so a quarter of a core still checks about 12 passwords a second.
    One lane keeps a check on one thread and one core (Django's eight lanes are eight
    threads, taking every core of a dyno, from the other workers too), and 19 MiB beside a
    worker's ~74 MiB leaves its 256 MiB budget safe.

    It keeps Django's algorithm name, "argon2", so a hash made with Django's own parameters
    still verifies here (argon2 reads the parameters from the hash) and is rehashed with
    these at the next successful login (`must_update` compares the parameters). For the same
    reason Django's Argon2PasswordHasher must not follow it in PASSWORD_HASHERS: the later of
    two hashers with one algorithm name is the one Django uses for it.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
