"""Running one GraphQL operation: a cached parsed-and-validated document, the
execution context that dispatches loaders, and error formatting."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationType, parse, validate
from graphql.execution import ExecutionContext, execute
from graphql.utilities import get_operation_ast
from graphql_sync_dataloaders import DeferredExecutionContext, SyncFuture

from .errors import BAD_REQUEST, BAD_USER_INPUT, error_body, format_error
from .schema import schema

GRAPHQL_SCHEMA = schema.graphql_schema


class CalendarExecutionContext(DeferredExecutionContext):
    """Resolves every field it can reach before any loader runs its batch, so each
    loader sees all the keys of a level at once; then dispatches the queued loaders,
    which resolve the next level, until nothing is pending.

    Root mutation fields run one at a time, each finished (loaders included)
    before the next starts, as the GraphQL spec requires.
    """

    def execute_operation(self, operation, root_value):
        self._deferred_callbacks = []
        result = ExecutionContext.execute_operation(self, operation, root_value)
        self._drain()
        if isinstance(result, SyncFuture):
            return result.result()
        return result

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        if path is not None or self.operation.operation != OperationType.MUTATION:
            return super().execute_fields_serially(parent_type, source_value, path, fields)
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            result = super().execute_fields_serially(parent_type, source_value, path, {response_name: field_nodes})
            self._drain()
            results.update(result.result() if isinstance(result, SyncFuture) else result)
        return results

    def _drain(self) -> None:
        loaders = self.context_value.loaders
        while self._deferred_callbacks or loaders.has_pending():
            if self._deferred_callbacks:
                self._deferred_callbacks.pop(0)()
            else:
                loaders.dispatch_next()


class DocumentErrors(Exception):
    def __init__(self, errors: list[GraphQLError]) -> None:
        self.errors = errors


@lru_cache(maxsize=512)
def _parse_and_validate(query: str) -> DocumentNode | tuple[GraphQLError, ...]:
    try:
        document = parse(query)
    except GraphQLError as error:
        return (error,)
    errors = validate(GRAPHQL_SCHEMA, document)
    return tuple(errors) if errors else document


def document_for(query: str) -> DocumentNode:
    """The parsed, validated document; repeated operations skip both steps."""
    result = _parse_and_validate(query)
    if isinstance(result, tuple):
        raise DocumentErrors(list(result))
    return result


@dataclass
class OperationResult:
    """The `{"data", "errors"}` body of one operation, and the HTTP status it
    would have on its own: 200 once execution started, 4xx when refused before."""

    body: dict[str, Any]
    status: int = 200


def refused(message: str, status: int = 400) -> OperationResult:
    return OperationResult(error_body(message), status)


def run_operation(
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Any,
    allow_mutations: bool = True,
) -> OperationResult:
    """Run one operation; every error in the answer carries its code."""
    try:
        document = document_for(query)
    except DocumentErrors as failure:
        return OperationResult({"errors": [format_error(error, BAD_REQUEST) for error in failure.errors]}, 400)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        if operation_name:
            return refused(f"Unknown operation named '{operation_name}'.")
        return refused("Must provide operationName when the document has several operations.")
    if operation.operation != OperationType.QUERY and not allow_mutations:
        return refused(f"A {operation.operation.value} must be sent with POST.", 405)
    result = execute(
        GRAPHQL_SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        execution_context_class=CalendarExecutionContext,
    )
    if result.data is None and result.errors and all(error.path is None for error in result.errors):
        # Rejected before execution (variables that do not fit their types): no data at all.
        return OperationResult({"errors": [format_error(error, BAD_USER_INPUT) for error in result.errors]}, 400)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(error) for error in result.errors]
    return OperationResult(body)
