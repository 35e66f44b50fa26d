"""The bench's URLconf (bench/settings.py): production's, plus `POST /bench/floor/<operation>`,
the one-statement floor (bench/floor.py) answered over HTTP through the same web process and
middleware as /graphql, so that wrk can measure both the same way.

The floor knows the viewer without authenticating (as in-process): the request's JSON body gives
what `FloorInput` holds but the key, `{"viewer_id", "day_start", "day_end", "event_id"}` (ISO
8601 instants for the day's UTC bounds); the IDs' key is this server's own. The answer is the
statement's JSON text as PostgreSQL writes it.
"""

from __future__ import annotations

import datetime as dt

import orjson
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calendarapp.ids import current_key
from config.urls import handler400, handler403, handler404, handler500, urlpatterns as production_urlpatterns

from .floor import STATEMENTS, FloorInput, statement

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def floor_input(body: bytes) -> FloorInput:
    """The FloorInput a request's body describes (KeyError, ValueError or TypeError if it does not)."""
    given = orjson.loads(body)
    return FloorInput(
        viewer_id=int(given["viewer_id"]),
        day_start=dt.datetime.fromisoformat(given["day_start"]),
        day_end=dt.datetime.fromisoformat(given["day_end"]),
        event_id=int(given["event_id"]),
        id_key=current_key(),
    )


@csrf_exempt  # no session, no cookie: the bench's client, like the app, sends none
@require_POST
def floor(request: HttpRequest, operation: str) -> HttpResponse:
    """One floor statement, executed and its JSON text fetched, as bench/measure.py does in-process."""
    if operation not in STATEMENTS:
        known = ", ".join(sorted(STATEMENTS))
        return JsonResponse({"error": f"No floor statement for {operation!r}: one of {known}."}, status=404)
    try:
        given = floor_input(request.body)
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as error:
        return JsonResponse({"error": f"Expected {{viewer_id, day_start, day_end, event_id}}: {error}"}, status=400)
    sql, params = statement(operation, given)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        text = cursor.fetchone()[0]
    return HttpResponse(text, content_type="application/json")


urlpatterns = [*production_urlpatterns, path("bench/floor/<str:operation>", floor, name="bench-floor")]
