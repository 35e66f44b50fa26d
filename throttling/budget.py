"""Each viewer's budget of estimated query cost (docs/api.md, `RATE_LIMITED`).

Every operation already has an estimated cost (schema/limits.py: the figure
QUERY_TOO_COMPLEX compares with GRAPHQL_MAX_COST). Each viewer may spend VIEWER_COST_BUDGET
of it every VIEWER_COST_PERIOD seconds, refilled evenly, shared by every worker and dyno
through Redis: an operation that would overdraw it is refused before it runs, so one viewer's
loop of expensive batches cannot hold the workers every other viewer needs. Anonymous
requests draw on their client address's budget.
"""

from __future__ import annotations

from django.conf import settings

from schema.errors import RateLimited

from .counters import counter_key, counters


def spend(client: str, cost: int) -> None:
    """Take `cost` from the budget of `client` (schema.context.RequestContext.client: the viewer,
    else the address), or raise RateLimited, taking nothing."""
    budget, period = settings.VIEWER_COST_BUDGET, settings.VIEWER_COST_PERIOD
    verdict = counters().take(counter_key("cost-budget", client), cost, budget, period)
    if not verdict.allowed:
        raise RateLimited(
            f"This operation's cost ({cost:,}) would overdraw your budget of {budget:,} a "
            f"{_period_name(period)}: try again later.",
            verdict.retry_after,
        )


def _period_name(seconds: float) -> str:
    return "minute" if seconds == 60 else f"{seconds:g} seconds"
