"""One GraphQL operation, from the request's fields to its answer, stage by stage:

1. its variables checked (schema/variables.py);
2. its document found and prepared: persisted query, trusted documents, limits, parse,
   validation, the process's cache (schema/documents.py);
3. the operation selected, and refused if it may not run here (a subscription, a mutation
   over GET);
4. its estimated cost checked (schema/limits.py) and spent from the client's budget
   (throttling/budget.py);
5. a query sent with its hash registered as a persisted query (schema/persisted_queries.py);
6. executed: by its compiled plan (schema/plans/), else by graphql-core's executor with our
   DataLoaders (schema/graphql_core_path.py), every error given its code;
7. error messages without graphql-core's suggestions for a client that may not see the
   schema (schema/introspection.py).

`run_operation` calls them in that order; the HTTP view (schema/view.py) reads the request
before and serializes the answer after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseDriverError
from graphql import DocumentNode, OperationDefinitionNode, OperationType
from graphql.utilities import get_operation_ast

from throttling import budget

from . import introspection, limits, persisted_queries
from .documents import OperationRefused, document_for
from .errors import (
    BAD_REQUEST,
    BAD_USER_INPUT,
    INTERNAL_SERVER_ERROR,
    QUERY_TOO_COMPLEX,
    RATE_LIMITED,
    RateLimited,
    database_failure_message,
    error_body,
    format_error,
    rate_limited_body,
)
from .graphql_core_path import execute_reference
from .plans import run_planned
from .schema import GRAPHQL_SCHEMA
from .trusted_documents import trusted_documents
from .variables import variables_refusal

logger = logging.getLogger("calendar.graphql")


@dataclass
class OperationResult:
    """The `{"data", "errors"}` body of one operation, and the HTTP status it
    would have on its own: 200 once execution started, 4xx when refused before."""

    body: dict[str, Any]
    status: int = 200
    # The name of the operation that ran, as the document spells it (for the request log).
    operation_name: str | None = None
    # Seconds the client should wait before trying again (a rate limit), for Retry-After.
    retry_after: int | None = None
    # Whether its document came from the process's cache (False: prepared now; None: refused
    # before a document was looked up), for the operation's trace span.
    document_cached: bool | None = None

    @property
    def error_codes(self) -> list[str | None]:
        """The `extensions.code` of each error in the answer, in order."""
        return [(error.get("extensions") or {}).get("code") for error in self.body.get("errors") or ()]

    @property
    def rate_limited(self) -> bool:
        """Whether a rate limit refused the operation or any of its fields (a login)."""
        return RATE_LIMITED in self.error_codes


def refused(message: str, status: int = 400, code: str = BAD_REQUEST) -> OperationResult:
    return OperationResult(error_body(message, code), status)


def run_operation(
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Any,
    allow_mutations: bool = True,
    query_hash: str | None = None,
) -> OperationResult:
    """Run one operation, given by its query, its persisted query's hash, or both; every
    error in the answer carries its code. The stages of the module's docstring, in order."""
    problem = variables_refusal(variables)
    if problem is not None:
        return refused(problem, code=BAD_USER_INPUT)
    shows_schema = introspection.shows_schema(context.viewer)
    trusted_only = trusted_documents.enabled and not (context.viewer and context.viewer.is_staff)
    try:
        prepared = document_for(query, query_hash, shows_schema, trusted_only)
    except OperationRefused as refusal:
        return refused(refusal.message, refusal.status, refusal.code)
    if prepared.document is None:
        result = OperationResult({"errors": [format_error(error, BAD_REQUEST) for error in prepared.errors]}, 400)
        result.document_cached = prepared.from_cache
        return _for_audience(result, shows_schema)
    operation = get_operation_ast(prepared.document, operation_name)
    refusal = _refusal_of(operation, operation_name, allow_mutations)
    if refusal is None:
        try:
            cost = prepared.cost_of(operation).check(variables)
            budget.spend(context.client, cost)
        except limits.QueryTooComplex as too_complex:
            refusal = refused(too_complex.message, code=QUERY_TOO_COMPLEX)
        except RateLimited as limited:
            refusal = OperationResult(rate_limited_body(limited), 429, retry_after=limited.retry_after)
    if refusal is None and query is not None and query_hash is not None and not trusted_only:
        persisted_queries.register(query_hash, query, context.client)
    result = refusal or _execute(prepared.document, operation, variables, operation_name, context)
    result.operation_name = operation.name.value if operation and operation.name else operation_name
    result.document_cached = prepared.from_cache
    return _for_audience(result, shows_schema)


def _for_audience(result: OperationResult, shows_schema: bool) -> OperationResult:
    """Error messages without graphql-core's "Did you mean" for a client that may not see the
    schema (from validation, as from coercing variables at execution)."""
    if not shows_schema:
        for error in result.body.get("errors") or ():
            error["message"] = introspection.without_suggestions(error["message"])
    return result


def _clipped(text: str, length: int = 100) -> str:
    """`text` as an error message may quote it: a client's 100 KB name is not echoed back."""
    return text if len(text) <= length else text[:length] + "..."


def _refusal_of(
    operation: OperationDefinitionNode | None, operation_name: str | None, allow_mutations: bool
) -> OperationResult | None:
    """Why the selected operation may not run, if it may not."""
    if operation is None:
        if operation_name:
            return refused(f"Unknown operation named '{_clipped(operation_name)}'.")
        return refused("Must provide operationName when the document has several operations.")
    if operation.operation == OperationType.SUBSCRIPTION:
        return refused("Subscriptions are not supported.")
    if operation.operation != OperationType.QUERY and not allow_mutations:
        return refused(f"A {operation.operation.value} must be sent with POST.", 405)
    return None


def _execute(
    document: DocumentNode, operation: OperationDefinitionNode, variables, operation_name: str | None, context: Any
) -> OperationResult:
    if settings.GRAPHQL_COMPILED_PLANS:
        data = run_planned(GRAPHQL_SCHEMA, document, operation, variables, context)
        if data is not None:
            return OperationResult({"data": data})
    try:
        result = execute_reference(document, variables, operation_name, context)
    except DatabaseDriverError as error:
        # Raised outside any field: a mutation's COMMIT, or the connection lost as its
        # transaction ended (PostgreSQL restarting). Whether it committed is unknown to us too.
        message = database_failure_message(error)
        if message is None:
            raise
        logger.warning("Database failure ending an operation: %s", error)
        return OperationResult(error_body(message, INTERNAL_SERVER_ERROR), 503)
    if result.data is None and result.errors and all(error.path is None for error in result.errors):
        # Rejected before execution (variables that do not fit their types): no data at all.
        return OperationResult({"errors": [format_error(error, BAD_USER_INPUT) for error in result.errors]}, 400)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    return OperationResult(body)
