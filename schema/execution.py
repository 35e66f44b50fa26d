"""Running one GraphQL operation: a cached parsed-and-validated document, then
execution with `CalendarExecutionContext`, every error given its code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationType, parse, validate
from graphql.execution import execute
from graphql.language import ArgumentNode, Node, ObjectFieldNode, Visitor, visit
from graphql.utilities import get_operation_ast

from .errors import BAD_REQUEST, BAD_USER_INPUT, error_body, format_error
from .executor import CalendarExecutionContext
from .schema import schema

GRAPHQL_SCHEMA = schema.graphql_schema


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
    return tuple(_as_input_error(document, error) for error in errors) if errors else document


def _as_input_error(document: DocumentNode, error: GraphQLError) -> GraphQLError:
    """A literal value that does not fit its type is bad user input, not a bad
    request: tag it BAD_USER_INPUT with the argument or input field it is given for."""
    tagged = bool(error.extensions and error.extensions.get("code"))
    if not (tagged or error.message.startswith("Expected value of type")) or not error.nodes:
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        extensions={"code": BAD_USER_INPUT, "field": _name_given_to(document, error.nodes[0])},
    )


def _name_given_to(document: DocumentNode, value_node: Node) -> str | None:
    """The argument or input object field whose value is `value_node`."""
    found: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_):
            if node.value is value_node:
                found.append(node.name.value)

        def enter_object_field(self, node: ObjectFieldNode, *_):
            if node.value is value_node:
                found.append(node.name.value)

    visit(document, Finder())
    return found[0] if found else None


def document_for(query: str) -> DocumentNode:
    """The parsed, validated document; repeated operations skip both steps."""
    result = _parse_and_validate(query)
    if isinstance(result, tuple):
        raise DocumentErrors(list(result))
    return result


# A raw NUL in the query text is a syntax error; an escaped one would parse.
_NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


def _nul_character_at(value: Any, path: str) -> str | None:
    """The path of the first string in `value` holding a NUL character, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _nul_character_at(item, f"{path}.{key}")
        if found:
            return found
    return None


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
    nul_at = _nul_character_at(variables, "variables") or ("query" if _NUL_ESCAPE.search(query) else None)
    if nul_at:
        # PostgreSQL cannot store or even compare a string with a NUL character in it.
        return OperationResult(error_body(f"Strings must not contain NUL characters ({nul_at}).", BAD_USER_INPUT), 400)
    try:
        document = document_for(query)
    except DocumentErrors as failure:
        return OperationResult({"errors": [format_error(error, BAD_REQUEST) for error in failure.errors]}, 400)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        if operation_name:
            return refused(f"Unknown operation named '{operation_name}'.")
        return refused("Must provide operationName when the document has several operations.")
    if operation.operation == OperationType.SUBSCRIPTION:
        return refused("Subscriptions are not supported.")
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
