"""Compiled plans: a query compiled once (compiler.py) and run level by level with batched
loaders (runner.py), giving exactly the answer graphql-core's path gives — or, for anything
but a plain successful answer, letting that path give it.

`GRAPHQL_COMPILED_PLANS` (a setting) turns them off: every operation then takes
graphql-core's path, which the differential tests compare the plans with.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode

from loaders.base import LoaderRegistry

from ..graphql_core_path import get_variable_values
from .compiler import plan_for
from .plan import DeadlinePassed, FallBack
from .runner import PlanRun

logger = logging.getLogger("calendar.plans")

# How operations went: "planned", "unplannable" (graphql-core's path by design), "fell back".
outcomes: Counter[str] = Counter()


def run_planned(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    context: Any,
) -> dict[str, Any] | None:
    """The `data` of a query run by its plan; None when graphql-core's path must answer
    (no plan for it, variables that do not fit, an error or a null to report)."""
    variable_values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(variable_values, list):  # errors: graphql-core's path reports them
        return None
    try:
        plan = plan_for(schema, document, operation, variable_values)
        if plan is None:
            outcomes["unplannable"] += 1
            return None
        data = PlanRun(schema, context, variable_values).run(plan)
    except DeadlinePassed:
        # What is loaded stays: starting again from nothing, that path would cut it all.
        outcomes["fell back"] += 1
        return None
    except FallBack as reason:
        logger.debug("%s takes graphql-core's path: %s", _name(operation), reason)
        _fall_back(context)
        return None
    except Exception:  # a value the plan did not foresee: graphql-core's path says what it is
        logger.warning("%s takes graphql-core's path after an unforeseen error", _name(operation), exc_info=True)
        _fall_back(context)
        return None
    outcomes["planned"] += 1
    return data


def _fall_back(context: Any) -> None:
    """Leave the operation to graphql-core's path with loaders of its own. With the plan's
    values already loaded, its futures would be settled from the start, and which errors it
    reports depends on that: a non-null field failing at once cuts its siblings short before
    they fail too. Fresh loaders make it answer exactly as it does alone (the statements the
    plan ran are run again: an error's price, not the common path's)."""
    outcomes["fell back"] += 1
    context.loaders = LoaderRegistry(context)


def _name(operation: OperationDefinitionNode) -> str:
    return f"Operation {operation.name.value}" if operation.name else "An anonymous operation"
