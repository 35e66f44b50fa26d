"""What must hold in every bench run, full or CI: SQL counts and answers, never times.

Times depend on the machine and its load; these do not, so a failure here is a
regression (or a broken baseline), wherever it runs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .sync import EXPECTED_CHANGED, EXPECTED_REMOVED

HOME_SCREEN_MAX_STATEMENTS = 7  # issue 3's target, authentication included
# Operations whose naive baseline must cost more statements than ours (one query per
# friend and per event): if it does not, the baseline is not naive.
NAIVE_MUST_COST_MORE = ("home_screen", "friends_feed")


def violations(results: list[dict[str, Any]]) -> list[str]:
    """Every broken rule, as a sentence naming the size, operation and variant."""
    found: list[str] = []
    for result in results:
        found.extend(_per_result(result))
    found.extend(_ours_constant(results))
    found.extend(_naive_costs_more(results))
    return found


def _label(result: dict[str, Any]) -> str:
    return f"{result['operation']} at {result['friends']} friends ({result['variant']})"


def _per_result(result: dict[str, Any]) -> list[str]:
    found = []
    label = _label(result)
    if len(result["sql_statements_seen"]) != 1:
        found.append(f"{label}: SQL statements vary between requests: {result['sql_statements_seen']}")
    if result["variant"] == "floor" and result["sql_statements"] != 1:
        found.append(f"{label}: the floor must be one statement, it ran {result['sql_statements']}")
    if result["variant"] != "ours":
        if not result["census_as_ours"]:
            found.append(f"{label}: not as many friends/events/attendees as ours: {result['difference']}")
        elif not result["same_as_ours"]:
            found.append(f"{label}: the answer differs from ours: {result['difference']}")
    limit = HOME_SCREEN_MAX_STATEMENTS
    if result["variant"] == "ours" and result["operation"] == "home_screen" and result["sql_statements"] > limit:
        found.append(f"{label}: {result['sql_statements']} SQL statements, more than {limit}")
    return found


def _ours_constant(results: list[dict[str, Any]]) -> list[str]:
    """Our statements per request must not depend on the number of friends."""
    by_operation: dict[str, dict[int, int]] = defaultdict(dict)
    for result in results:
        if result["variant"] == "ours":
            by_operation[result["operation"]][result["friends"]] = result["sql_statements"]
    return [
        f"{operation} (ours): SQL statements depend on the size: {by_size}"
        for operation, by_size in by_operation.items()
        if len(set(by_size.values())) > 1
    ]


def _naive_costs_more(results: list[dict[str, Any]]) -> list[str]:
    ours = {(r["operation"], r["friends"]): r["sql_statements"] for r in results if r["variant"] == "ours"}
    return [
        f"{_label(r)}: {r['sql_statements']} statements, not more than ours ({ours[(r['operation'], r['friends'])]}): "
        "the naive baseline is not naive"
        for r in results
        if r["variant"] == "naive"
        and r["operation"] in NAIVE_MUST_COST_MORE
        and r["friends"] > 1
        and r["sql_statements"] <= ours.get((r["operation"], r["friends"]), 0)
    ]


def sync_violations(syncs: list[dict[str, Any]]) -> list[str]:
    """Delta sync: the same statements on every page and at every size, and devices that
    end up holding exactly the sync scope."""
    found = [violation for sync in syncs for violation in _per_sync(sync)]
    per_page = {sync["friends"]: tuple(sync["full"]["sql_per_page_seen"]) for sync in syncs}
    if len(set(per_page.values())) > 1:
        found.append(f"sync: SQL statements per page depend on the size: {per_page}")
    return found


def _per_sync(sync: dict[str, Any]) -> list[str]:
    label = f"sync at {sync['friends']} friends"
    full, incremental = sync["full"], sync["incremental"]
    found = []
    if len(full["sql_per_page_seen"]) != 1:
        found.append(f"{label}: SQL statements vary between the pages of a full sync: {full['sql_per_page_seen']}")
    if incremental["sql"] not in full["sql_per_page_seen"]:
        found.append(
            f"{label}: an incremental page runs {incremental['sql']} statements, a full sync's page "
            f"{full['sql_per_page_seen']}"
        )
    if not full["holds_scope"]:
        found.append(f"{label}: after a full sync the device does not hold exactly the sync scope")
    if not incremental["holds_scope"]:
        found.append(f"{label}: after the incremental sync the device does not hold exactly the sync scope")
    if (incremental["events"], incremental["removed"]) != (EXPECTED_CHANGED, EXPECTED_REMOVED):
        found.append(
            f"{label}: the incremental sync lists {incremental['events']} events and {incremental['removed']} "
            f"removals, not {EXPECTED_CHANGED} and {EXPECTED_REMOVED}"
        )
    return found
