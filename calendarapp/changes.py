"""The change sequence behind delta sync (`changes(since:, first:)` in ../shared/API.md).

Every transaction that changes what a sync client may hold (an event created, edited,
RSVPed to or deleted; a friendship made or ended) takes one number from the sequence and
stamps it on what it wrote. The sequence is a single counter row, incremented in the
writing transaction: the row stays locked until that transaction commits, so a later
number is never visible before an earlier one, and a sync that has read the counter's
value N has seen every change numbered N or less. A timestamp cannot promise that: two
transactions may commit in the other order, or in the same instant.
"""

from __future__ import annotations

from django.db import connection

from .models import ChangeCounter


def next_change_seq() -> int:
    """Take the next number of the change sequence; call inside the writing transaction."""
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One statement on SQLite (>= 3.35) and PostgreSQL alike, creating the row if a
        # flushed database lacks it; the row lock it takes orders concurrent writers by commit.
        cursor.execute(
            f"INSERT INTO {table} (id, value) VALUES (1, 1) "
            f"ON CONFLICT (id) DO UPDATE SET value = {table}.value + 1 RETURNING value"
        )
        return cursor.fetchone()[0]
