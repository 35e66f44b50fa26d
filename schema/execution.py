"""Running one GraphQL operation: its document (parsed, checked against the limits and
validated once per process, kept by the query's SHA-256 and whether the schema is shown),
then execution with `CalendarExecutionContext`, every error given its code.

A query reaches here as text, as a hash alone (an automatic persisted query), or as both.
A document already prepared is found by its hash alone: a repeated operation is neither
parsed nor validated again, and one sent by hash does not even reach the shared cache.

Whether the request may see the schema (schema/introspection.py) is part of what a document
is prepared for: a client that may not is refused introspection in validation and given
error messages without graphql-core's suggestions, and the documents prepared for one kind
of client never serve the other.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.db import Error as DatabaseDriverError
from graphql import (
    DocumentNode,
    GraphQLError,
    MaxIntrospectionDepthRule,
    OperationType,
    ValuesOfCorrectTypeRule,
    parse,
    specified_rules,
    validate,
)
from graphql.execution import execute
from graphql.language import ArgumentNode, Node, ObjectFieldNode, OperationDefinitionNode, ValueNode, Visitor, visit
from graphql.utilities import get_operation_ast

from throttling import budget

from . import introspection, limits, persisted_queries
from .errors import (
    BAD_REQUEST,
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    PERSISTED_QUERY_NOT_FOUND,
    QUERY_TOO_COMPLEX,
    RATE_LIMITED,
    RateLimited,
    database_failure_message,
    error_body,
    format_error,
    rate_limited_body,
)
from .executor import CalendarExecutionContext
from .plans import run_planned
from .schema import schema
from .trusted_documents import NOT_TRUSTED, trusted_documents

GRAPHQL_SCHEMA = schema.graphql_schema
logger = logging.getLogger("calendar.graphql")


class LiteralValuesRule(ValuesOfCorrectTypeRule):
    """graphql-core's check of literal values, a scalar or enum literal that does not fit its
    type (`first: "ten"`, `accept: 1`, `status: SOMETIMES`) tagged BAD_USER_INPUT, as the same
    value in a variable is: graphql-core's own scalars report it in their own words, which
    `_as_input_error` would not recognise. A missing or unknown input field stays BAD_REQUEST."""

    _literal: ValueNode | None = None

    def is_valid_value_node(self, node: ValueNode) -> None:
        self._literal = node
        try:
            super().is_valid_value_node(node)
        finally:
            self._literal = None

    def report_error(self, error: GraphQLError) -> None:
        if self._literal is not None:
            extensions = {**(error.extensions or {}), "code": BAD_USER_INPUT}
            error = GraphQLError(error.message, error.nodes or self._literal, extensions=extensions)
        super().report_error(error)


# graphql-core's rules, its bound on introspection reported as QUERY_TOO_COMPLEX and literals that
# do not fit their type as BAD_USER_INPUT.
VALIDATION_RULES = tuple(
    {MaxIntrospectionDepthRule: limits.IntrospectionDepthRule, ValuesOfCorrectTypeRule: LiteralValuesRule}.get(
        rule, rule
    )
    for rule in specified_rules
)
# For a client that may not see the schema: no introspection either.
SCHEMA_HIDDEN_RULES = (*VALIDATION_RULES, introspection.StaffOnlyIntrospectionRule)


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

    @property
    def rate_limited(self) -> bool:
        """Whether a rate limit refused the operation or any of its fields (a login)."""
        codes = ((error.get("extensions") or {}).get("code") for error in self.body.get("errors") or ())
        return RATE_LIMITED in codes


def refused(message: str, status: int = 400, code: str = BAD_REQUEST) -> OperationResult:
    return OperationResult(error_body(message, code), status)


class OperationRefused(Exception):
    """An operation answered before its document is known (a persisted query not found,
    a hash that is not its query's, a query over the size limit)."""

    def __init__(self, message: str, code: str = BAD_REQUEST, status: int = 400) -> None:
        super().__init__(message)
        self.result = OperationResult(error_body(message, code), status)


def run_operation(
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Any,
    allow_mutations: bool = True,
    query_hash: str | None = None,
) -> OperationResult:
    """Run one operation, given by its query, its persisted query's hash, or both; every
    error in the answer carries its code."""
    nesting = _nesting_of(variables)
    if nesting > limits.MAX_NESTING:
        # No input type nests that deep; walking such values recursively (our NUL check below,
        # graphql-core's coercion and its error messages) would overflow Python's stack.
        message = f"Variables nest {nesting} levels deep, over the limit of {limits.MAX_NESTING}."
        return refused(message, code=BAD_USER_INPUT)
    nul_at = _nul_character_at(variables, "variables")
    if nul_at:
        # PostgreSQL cannot store or even compare a string with a NUL character in it.
        return refused(f"Strings must not contain NUL characters ({nul_at}).", code=BAD_USER_INPUT)
    shows_schema = introspection.shows_schema(context.viewer)
    trusted_only = trusted_documents.enabled and not (context.viewer and context.viewer.is_staff)
    try:
        prepared = document_for(query, query_hash, shows_schema, trusted_only)
    except OperationRefused as refusal:
        return refusal.result
    if prepared.document is None:
        result = OperationResult({"errors": [format_error(error, BAD_REQUEST) for error in prepared.errors]}, 400)
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
        result = execute(
            GRAPHQL_SCHEMA,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            execution_context_class=CalendarExecutionContext,
        )
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


def document_for(
    query: str | None, query_hash: str | None, shows_schema: bool = True, trusted_only: bool = False
) -> PreparedDocument:
    """The prepared document of an operation given by its query, its persisted query's hash,
    or both (then the hash must be the query's; `run_operation` registers it once it passed
    its checks), for a client that may see the schema or not (`shows_schema`).
    `trusted_only`: only a trusted document (schema/trusted_documents.py), found by its hash,
    and anything else refused before it is parsed."""
    if query is None:
        key = DocumentKey(query_hash, shows_schema)
        return _trusted_document(key) if trusted_only else _persisted_document(key)
    try:
        limits.check_size(query)  # before hashing, storing or parsing anything
    except limits.QueryTooComplex as refusal:
        raise OperationRefused(refusal.message, QUERY_TOO_COMPLEX) from None
    sha256 = persisted_queries.sha256_of(query)
    if query_hash is not None and query_hash != sha256:
        raise OperationRefused("The persisted query's sha256Hash is not the SHA-256 of its query.")
    key = DocumentKey(sha256, shows_schema)
    if trusted_only:
        return _trusted_document(key)
    return documents.get(key) or _prepare_and_keep(key, query)


def _trusted_document(key: DocumentKey) -> PreparedDocument:
    body = trusted_documents.body(key.sha256)
    if body is None:
        raise OperationRefused(NOT_TRUSTED, FORBIDDEN, status=403)
    return documents.get(key) or _prepare_and_keep(key, body)


def _persisted_document(key: DocumentKey) -> PreparedDocument:
    prepared = documents.get(key)
    if prepared is not None:
        return prepared
    query = persisted_queries.stored_query(key.sha256)
    if query is None:
        raise OperationRefused(persisted_queries.NOT_FOUND_MESSAGE, PERSISTED_QUERY_NOT_FOUND, status=200)
    return _prepare_and_keep(key, query)


def _prepare_and_keep(key: DocumentKey, query: str) -> PreparedDocument:
    prepared = prepare(query, key.shows_schema)
    documents.put(key, prepared)
    return prepared


@dataclass(frozen=True)
class PreparedDocument:
    """What a query text comes to, worked out once: its document and each operation's cost
    plan, or the errors that stop it (syntax, limits, validation)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    costs: Mapping[str | None, limits.OperationCost] = field(default_factory=dict)

    def cost_of(self, operation: OperationDefinitionNode) -> limits.OperationCost:
        return self.costs[operation.name.value if operation.name else None]


def prepare(query: str, shows_schema: bool = True) -> PreparedDocument:
    """Lex, parse, check the shape of and validate `query`, cheapest refusals first; for a
    client that may not see the schema (`shows_schema` false), introspection is refused."""
    if _NUL_ESCAPE.search(query):
        # PostgreSQL cannot store or even compare a string with a NUL character in it.
        message = "Strings must not contain NUL characters (query)."
        return PreparedDocument(None, (GraphQLError(message, extensions={"code": BAD_USER_INPUT}),))
    try:
        # Lexed first, so the parser never meets more tokens than graphql-core's own
        # max_tokens would allow, nor more nesting than its recursion can take.
        limits.check_tokens(query)
        document = parse(query)
        limits.check_shape(document)
    except GraphQLError as error:
        return PreparedDocument(None, (error,))
    except limits.QueryTooComplex as refusal:
        return PreparedDocument(None, (refusal.as_graphql_error(),))
    errors = validate(GRAPHQL_SCHEMA, document, VALIDATION_RULES if shows_schema else SCHEMA_HIDDEN_RULES)
    if errors:
        return PreparedDocument(None, tuple(_as_input_error(document, error) for error in errors))
    return PreparedDocument(document, costs=limits.operation_costs(GRAPHQL_SCHEMA, document))


# A raw NUL in the query text is a syntax error; an escaped one would parse.
_NUL_ESCAPE = re.compile(r"\\u0000", re.IGNORECASE)


def _as_input_error(document: DocumentNode, error: GraphQLError) -> GraphQLError:
    """A literal value that does not fit its type is bad user input, not a bad
    request: tag it BAD_USER_INPUT with the argument or input field it is given for."""
    tagged = bool(error.extensions and error.extensions.get("code") == BAD_USER_INPUT)
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


@dataclass(frozen=True)
class DocumentCacheStats:
    hits: int
    misses: int
    size: int
    capacity: int


class DocumentKey(NamedTuple):
    """What a prepared document is kept by: its query's SHA-256, and whether it was prepared
    for a client that may see the schema (validated with or without introspection)."""

    sha256: str
    shows_schema: bool


class DocumentCache:
    """Prepared documents by DocumentKey, the least recently used dropped beyond
    GRAPHQL_DOCUMENT_CACHE_SIZE; one per process, shared by its threads."""

    def __init__(self) -> None:
        self._documents: OrderedDict[DocumentKey, PreparedDocument] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: DocumentKey) -> PreparedDocument | None:
        with self._lock:
            prepared = self._documents.get(key)
            if prepared is None:
                self.misses += 1
                return None
            self.hits += 1
            self._documents.move_to_end(key)
            return prepared

    def put(self, key: DocumentKey, prepared: PreparedDocument) -> None:
        with self._lock:
            self._documents[key] = prepared
            self._documents.move_to_end(key)
            while len(self._documents) > settings.GRAPHQL_DOCUMENT_CACHE_SIZE:
                self._documents.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self.hits = self.misses = 0

    def stats(self) -> DocumentCacheStats:
        with self._lock:
            return DocumentCacheStats(
                self.hits, self.misses, len(self._documents), settings.GRAPHQL_DOCUMENT_CACHE_SIZE
            )


documents = DocumentCache()


def _forget_documents_when_limits_change(setting: str, **_: Any) -> None:
    """A prepared document holds the verdicts of the limits of its time (tests override them)."""
    if setting.startswith("GRAPHQL_"):
        documents.clear()


setting_changed.connect(_forget_documents_when_limits_change)


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


def _nesting_of(value: Any) -> int:
    """How many objects and arrays deep `value` nests. Iterative, so that no JSON is too deep
    for it (orjson reads up to 1,024 levels)."""
    deepest, pending = 0, [iter((value,))]  # per level being walked, its values left
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, dict | list):
            pending.append(iter(item.values() if isinstance(item, dict) else item))
            deepest = max(deepest, len(pending) - 1)
    return deepest


_END = object()
