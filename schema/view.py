"""The HTTP endpoint: `POST /graphql` (one operation or a batch), `GET /graphql`
(queries, or GraphiQL for a browser), each operation given by its query, by the hash of
an automatic persisted query, or both. Whatever the input, the answer is JSON with error
codes, never a 500 page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import Error as DatabaseDriverError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie

from config import metrics, tracing
from config.asgi_bridge import ANSWER_DELAY
from config.deadline import Deadline, DeadlineExceeded

from .auth import ANONYMOUS, Credentials, CsrfRejected, authenticate, challenge, malformed_header
from .context import RequestContext
from .errors import (
    BAD_REQUEST,
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    QUERY_TOO_COMPLEX,
    database_failure_message,
    error_body,
)
from .graphiql import opening_props
from .instrumentation import SqlRecorder, recording_sql
from .persisted_queries import MalformedPersistedQuery, requested_hash
from .pipeline import OperationResult, refused, run_operation

logger = logging.getLogger("calendar.graphql")


class RequestError(Exception):
    """A request we refuse before any operation runs (HTTP 4xx, code BAD_REQUEST unless said)."""

    def __init__(self, message: str, status: int = 400, code: str = BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def json_response(body: Any, status: int = 200) -> HttpResponse:
    metrics.count_errors(body)
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def wants_graphiql(request: HttpRequest) -> bool:
    asks_graphql = "query" in request.GET or "extensions" in request.GET
    return not asks_graphql and "text/html" in request.headers.get("Accept", "")


@method_decorator(csrf_exempt, name="dispatch")  # checked in schema.auth.authenticate for session users
class GraphQLView(View):
    http_method_names = ["get", "post"]
    # The context of each operation (the benchmarks' naive baseline, bench/naive.py, has its own).
    context_class: type[RequestContext] = RequestContext

    def http_method_not_allowed(self, request, *args, **kwargs):
        return json_response(error_body(f"{request.method} is not supported: use GET or POST."), status=405)

    def get(self, request: HttpRequest) -> HttpResponse:
        if wants_graphiql(request):
            return self.graphiql(request)
        return self.answer(request, lambda: ([self.operation_from_query_string(request)], False), via_get=True)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.answer(request, lambda: self.operations_from_body(request), via_get=False)

    @method_decorator(ensure_csrf_cookie)
    def graphiql(self, request: HttpRequest) -> HttpResponse:
        return render(request, "graphiql.html", {"graphql_url": request.path, "opening": opening_props()})

    def answer(self, request: HttpRequest, read_operations, via_get: bool) -> HttpResponse:
        # One recorder for the whole request: each answer's `extensions.debug` reports the
        # statements since the previous answer, so the first one counts the authentication.
        with recording_sql() as sql:
            try:
                operations, is_batch = read_operations()
                credentials = authenticate(request)
            except RequestError as error:
                # Refused before the token is looked up (no SQL): only a malformed header is known.
                response = json_response(with_debug(error_body(error.message, error.code), sql), status=error.status)
                return challenge(response, malformed_header(request))
            except CsrfRejected as rejection:
                body = error_body(f"CSRF check failed: {rejection}", FORBIDDEN)
                return json_response(with_debug(body, sql), status=403)
            except DatabaseDriverError as error:  # e.g. PostgreSQL restarting while the token is looked up
                message = database_failure_message(error)
                if message is None:
                    raise
                logger.warning("Database failure before the operations ran: %s", error)
                return json_response(error_body(message, INTERNAL_SERVER_ERROR), status=503)
            results = self.run_all(request, operations, credentials, via_get, sql)
        # For the request log (config/request_log.py).
        request.graphql_operation_names = [result.operation_name for result in results]  # type: ignore[attr-defined]
        if any(result.rate_limited for result in results):
            # Held back on the event loop (config/asgi_bridge.py): a flood of refused attempts
            # gets its refusals slowly, and with them its next attempts.
            request.META[ANSWER_DELAY] = settings.RATE_LIMITED_ANSWER_DELAY
        if is_batch:
            # 503 when the deadline left no operation run at all, as for a single operation.
            none_ran = all(result.status == DEADLINE_STATUS for result in results)
            response = json_response([result.body for result in results], status=DEADLINE_STATUS if none_ran else 200)
        else:
            response = json_response(results[0].body, status=results[0].status)
            if results[0].retry_after is not None:
                response["Retry-After"] = str(results[0].retry_after)
        return challenge(response, credentials.refusal)

    def run_all(
        self, request: HttpRequest, operations: list[Any], credentials: Credentials, via_get: bool, sql: SqlRecorder
    ) -> list[OperationResult]:
        """Run the operations in order, sharing their loaders, each only while the request's
        deadline lasts; after an operation that logged out the request's own token or session,
        the rest run anonymously, with loaders of their own."""
        shared = self.context_class(request, credentials)
        deadline = shared.deadline
        results = []
        for operation in operations:
            if deadline is not None and deadline.expired():
                results.append(cut_by_deadline(operation, deadline))
                continue
            context = self.context_class(request, credentials, shared.loaders, deadline)
            result = self.run(operation, context, via_get, sql)
            with_debug(result.body, sql)
            results.append(result)
            if context.ended_request_credentials and credentials is not ANONYMOUS:
                shared.loaders.clear()
                credentials = ANONYMOUS
                shared = self.context_class(request, credentials, deadline=deadline)
        shared.loaders.clear()  # frees the request's rows now rather than at the next GC
        return results

    def run(self, operation: Any, context: RequestContext, via_get: bool, sql: SqlRecorder) -> OperationResult:
        try:
            request = read_operation(operation)
        except MalformedOperation as problem:
            return refused(str(problem))
        if tracing.tracer is None:
            return execute(request, context, via_get)
        return tracing.traced_operation(execute, sql, request, context, via_get)

    def operations_from_body(self, request: HttpRequest) -> tuple[list[Any], bool]:
        content_type = request.content_type or ""
        if content_type != "application/json":
            raise RequestError(f"Send the request as application/json, not '{content_type or 'nothing'}'.", 415)
        try:
            body = orjson.loads(request.body)
        except RequestDataTooBig:
            # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE, on its Content-Length.
            size, limit = int(request.META["CONTENT_LENGTH"]), settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            message = f"Request body size {size:,} bytes exceeds the limit of {limit:,} bytes."
            raise RequestError(message, 413, QUERY_TOO_COMPLEX) from None
        except orjson.JSONDecodeError as error:
            raise RequestError(f"The body is not valid JSON: {error}.") from None
        if isinstance(body, dict):
            return [body], False
        if isinstance(body, list):
            if not body:
                raise RequestError("A batch must hold at least one operation.")
            if len(body) > settings.GRAPHQL_MAX_BATCH:
                raise RequestError(
                    f"A batch may hold at most {settings.GRAPHQL_MAX_BATCH} operations; this one has {len(body)}."
                )
            return body, True
        raise RequestError("The body must be a GraphQL request object or an array of them.")

    def operation_from_query_string(self, request: HttpRequest) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "query": request.GET.get("query"),
            "operationName": request.GET.get("operationName") or None,
        }
        for parameter in ("variables", "extensions"):  # JSON-encoded, as Apollo's clients send them
            if request.GET.get(parameter):
                try:
                    operation[parameter] = orjson.loads(request.GET[parameter])
                except orjson.JSONDecodeError:
                    raise RequestError(f"{parameter} is not valid JSON.") from None
        return operation


def execute(request: OperationRequest, context: RequestContext, via_get: bool) -> OperationResult:
    """Run one operation of the request (a mutation only if it came by POST)."""
    return run_operation(
        request.query,
        request.variables,
        request.operation_name,
        context,
        allow_mutations=not via_get,
        query_hash=request.query_hash,
    )


# The status of an operation the request's deadline left unstarted (and of a request none of
# whose operations started): the server ran out of time, the client may try again.
DEADLINE_STATUS = 503


def cut_by_deadline(operation: Any, deadline: Deadline) -> OperationResult:
    """The answer of an operation not started because the request's time was up."""
    deadline.cut("operations")
    name = operation.get("operationName") if isinstance(operation, dict) else None
    body = error_body(str(DeadlineExceeded(deadline)), INTERNAL_SERVER_ERROR)
    return OperationResult(body, DEADLINE_STATUS, name if isinstance(name, str) else None)


def with_debug(body: dict[str, Any], sql: SqlRecorder) -> dict[str, Any]:
    """In DEBUG, every answer says what SQL it cost (`extensions.debug`: schema/instrumentation.py)."""
    if settings.DEBUG:
        body["extensions"] = {**body.get("extensions", {}), "debug": sql.unreported()}
    return body


class MalformedOperation(ValueError):
    """An operation of the request is not a GraphQL request object (BAD_REQUEST)."""


@dataclass(frozen=True)
class OperationRequest:
    """One operation as the client asked for it: a query, a persisted query's hash, or both."""

    query: str | None
    query_hash: str | None
    variables: dict[str, Any] | None
    operation_name: str | None


def read_operation(operation: Any) -> OperationRequest:
    """The operation a GraphQL request object asks for; MalformedOperation says why it is not one."""
    if not isinstance(operation, dict):
        raise MalformedOperation("Each operation must be an object with a query.")
    try:
        query_hash = requested_hash(operation.get("extensions"))
    except MalformedPersistedQuery as problem:
        raise MalformedOperation(str(problem)) from None
    query = operation.get("query")
    if query is None and query_hash is None:
        raise MalformedOperation("The request has no query.")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise MalformedOperation("The request has no query.")
    variables, operation_name = operation.get("variables"), operation.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        raise MalformedOperation("variables must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise MalformedOperation("operationName must be a string.")
    return OperationRequest(query, query_hash, variables, operation_name)
