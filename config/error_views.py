"""What Django answers for a request it refuses before or outside a view: a Host header not in
ALLOWED_HOSTS, an unknown path, a PermissionDenied, a failed CSRF check, a crash. Clients of
the API get the contract's JSON, `{"errors": [{"message", "extensions": {"code"}}]}`, never
Django's HTML pages; the admin, pages for a browser, keeps Django's own. A bad Host is JSON on
every path (config/urls.py installs these; settings.CSRF_FAILURE_VIEW the CSRF one).

With DEBUG on, Django shows its debug pages instead of the 400, 404 and 500 here.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

from config import metrics
from schema.errors import BAD_REQUEST, FORBIDDEN, INTERNAL_SERVER_ERROR, NOT_FOUND, error_body

BAD_HOST_MESSAGE = "The Host header names a host this server does not serve."


def _for_a_browser(request: HttpRequest) -> bool:
    return request.path_info.startswith("/admin/")


def _json_error(message: str, code: str, status: int) -> JsonResponse:
    body = error_body(message, code)
    metrics.count_errors(body)
    return JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, DisallowedHost):  # the host is not ours: not even the admin is served
        return _json_error(BAD_HOST_MESSAGE, BAD_REQUEST, 400)
    if _for_a_browser(request):
        return defaults.bad_request(request, exception)
    return _json_error("Bad request.", BAD_REQUEST, 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_a_browser(request):
        return defaults.permission_denied(request, exception)
    return _json_error("You may not do that.", FORBIDDEN, 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_a_browser(request):
        return defaults.page_not_found(request, exception)
    return _json_error("Nothing is at this path: the API is at /graphql.", NOT_FOUND, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _for_a_browser(request):
        return defaults.server_error(request)
    return _json_error("Internal server error.", INTERNAL_SERVER_ERROR, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _for_a_browser(request):
        return csrf.csrf_failure(request, reason)
    return _json_error(f"CSRF check failed: {reason}", FORBIDDEN, 403)
