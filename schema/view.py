"""The HTTP endpoint: `POST /graphql` (one operation or a batch), `GET /graphql`
(queries, or GraphiQL for a browser). Whatever the input, the answer is JSON
with error codes, never a 500 page."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie

from .auth import CsrfRejected, viewer_for_request
from .context import RequestContext
from .errors import FORBIDDEN, error_body
from .execution import OperationResult, refused, run_operation
from .instrumentation import recording_sql


class RequestError(Exception):
    """A request we refuse before any operation runs (HTTP 4xx, code BAD_REQUEST)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def wants_graphiql(request: HttpRequest) -> bool:
    return "query" not in request.GET and "text/html" in request.headers.get("Accept", "")


@method_decorator(csrf_exempt, name="dispatch")  # checked in viewer_for_request for session users
class GraphQLView(View):
    http_method_names = ["get", "post"]
    # Only the benchmarks' naive baseline sets this False: GraphQLView.as_view(optimized=False).
    optimized = True

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
        return render(request, "graphiql.html", {"graphql_url": request.path})

    def answer(self, request: HttpRequest, read_operations, via_get: bool) -> HttpResponse:
        try:
            with recording_sql() as sql:
                operations, is_batch = read_operations()
                viewer = viewer_for_request(request)
        except RequestError as error:
            return json_response(with_debug(error_body(error.message), sql), status=error.status)
        except CsrfRejected as rejection:
            body = error_body(f"CSRF check failed: {rejection}", FORBIDDEN)
            return json_response(with_debug(body, sql), status=403)
        shared = RequestContext(request, viewer, optimized=self.optimized)
        results = [
            self.run(operation, RequestContext(request, viewer, shared.loaders, self.optimized), via_get)
            for operation in operations
        ]
        shared.loaders.clear()  # frees the request's rows now rather than at the next GC
        if is_batch:
            return json_response([result.body for result in results])
        return json_response(results[0].body, status=results[0].status)

    def run(self, operation: Any, context: RequestContext, via_get: bool) -> OperationResult:
        problem = malformed_operation(operation)
        if problem:
            return refused(problem)
        with recording_sql() as sql:
            result = run_operation(
                operation["query"],
                operation.get("variables"),
                operation.get("operationName"),
                context,
                allow_mutations=not via_get,
            )
        with_debug(result.body, sql)
        return result

    def operations_from_body(self, request: HttpRequest) -> tuple[list[Any], bool]:
        content_type = request.content_type or ""
        if content_type != "application/json":
            raise RequestError(f"Send the request as application/json, not '{content_type or 'nothing'}'.", 415)
        try:
            body = orjson.loads(request.body)
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
        if request.GET.get("variables"):
            try:
                operation["variables"] = orjson.loads(request.GET["variables"])
            except orjson.JSONDecodeError:
                raise RequestError("variables is not valid JSON.") from None
        return operation


def with_debug(body: dict[str, Any], sql) -> dict[str, Any]:
    """In DEBUG, every answer says what SQL it cost (`extensions.debug`)."""
    if settings.DEBUG:
        body["extensions"] = {**body.get("extensions", {}), "debug": sql.as_extension()}
    return body


def malformed_operation(operation: Any) -> str | None:
    """Why `operation` is not a GraphQL request object, or None if it is one."""
    if not isinstance(operation, dict):
        return "Each operation must be an object with a query."
    query = operation.get("query")
    if not isinstance(query, str) or not query.strip():
        return "The request has no query."
    if operation.get("variables") is not None and not isinstance(operation["variables"], dict):
        return "variables must be an object."
    if operation.get("operationName") is not None and not isinstance(operation["operationName"], str):
        return "operationName must be a string."
    return None
