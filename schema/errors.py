"""Error codes of the API (see docs/api.md) and how every error gets one.

Resolvers raise `APIError` subclasses, or Django's ValidationError /
PermissionDenied / ObjectDoesNotExist and calendarapp's TooSoon from the model layer;
`format_error` maps each to `extensions.code` (and `extensions.field` for bad input,
`extensions.retryAfter` for RATE_LIMITED). Anything else
is a bug: logged with its traceback and answered INTERNAL_SERVER_ERROR without
details.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import Error as DatabaseDriverError, InterfaceError, OperationalError
from graphql import GraphQLError, GraphQLFormattedError

from calendarapp.services import TooSoon
from config.deadline import DeadlineExceeded

logger = logging.getLogger("calendar.errors")

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
BAD_REQUEST = "BAD_REQUEST"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
# Every code an answer may carry (API.md's list).
CODES = frozenset(
    {
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        BAD_USER_INPUT,
        QUERY_TOO_COMPLEX,
        PERSISTED_QUERY_NOT_FOUND,
        BAD_REQUEST,
        RATE_LIMITED,
        INTERNAL_SERVER_ERROR,
    }
)


class APIError(Exception):
    code = INTERNAL_SERVER_ERROR

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(APIError):
    code = UNAUTHENTICATED

    def __init__(self, message: str = "You must be logged in.") -> None:
        super().__init__(message)


class Forbidden(APIError):
    code = FORBIDDEN


class BadUserInput(APIError):
    code = BAD_USER_INPUT


class RateLimited(APIError):
    """Too many attempts, or a budget spent: the client may try again after `retry_after`
    whole seconds (`extensions.retryAfter`)."""

    code = RATE_LIMITED

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def invalid_value(message: str) -> GraphQLError:
    """An input value that does not parse (a scalar's own check): BAD_USER_INPUT
    wherever graphql-core reports it, in a variable or a literal."""
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT})


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _from_validation_error(error: ValidationError) -> tuple[str, str | None]:
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        message = " ".join(m for e in errors for m in e.messages)
        return message, (None if field == "__all__" else camel_case(field))
    return " ".join(error.messages), None


# Where graphql-core names an input path in a coercion message: "... at 'input.endsAt'; ...".
_INPUT_PATH = re.compile(r"at '([\w.\[\]]+)'")
_MISSING_FIELD = re.compile(r"^Field '(\w+)' of required type")


def _field_of_graphql_message(message: str) -> str | None:
    match = _INPUT_PATH.search(message) or _MISSING_FIELD.search(message)
    if not match:
        return None
    return match.group(1).split(".")[-1].split("[")[0]


def _tagged_code(error: GraphQLError) -> str | None:
    """The code an error (or the input error it wraps) was tagged with where it arose."""
    for candidate in (error, error.original_error):
        if isinstance(candidate, GraphQLError) and candidate.extensions and candidate.extensions.get("code"):
            return candidate.extensions["code"]
    return None


def _api_error_of(original: BaseException | None) -> BaseException | None:
    """The model layer's TooSoon as the API's RateLimited (calendarapp may not import the schema)."""
    if isinstance(original, TooSoon):
        return RateLimited(original.message, original.retry_after)
    return original


def classify(error: GraphQLError, default_code: str) -> tuple[str, str, str | None]:
    """(code, message, field) for any error raised while answering an operation."""
    tagged = _tagged_code(error)
    if tagged:
        field = (error.extensions or {}).get("field") or _field_of_graphql_message(error.message)
        return tagged, error.message, field
    original = _api_error_of(error.original_error)
    if isinstance(original, APIError):
        return original.code, original.message, original.field
    if isinstance(original, ValidationError):
        message, field = _from_validation_error(original)
        return BAD_USER_INPUT, message, field
    if isinstance(original, PermissionDenied):
        return FORBIDDEN, str(original) or "You may not do that.", None
    if isinstance(original, ObjectDoesNotExist):
        return NOT_FOUND, "Not found.", None
    if isinstance(original, GraphQLError):  # an input value graphql-core could not coerce
        return BAD_USER_INPUT, error.message, _field_of_graphql_message(error.message)
    if isinstance(original, DeadlineExceeded):  # logged once per request, by config/deadline.py
        return INTERNAL_SERVER_ERROR, str(original), None
    if original is not None:
        database_message = database_failure_message(original)
        if database_message:
            _log_once(original, logging.WARNING, "Database failure in a resolver: %s", original)
            return INTERNAL_SERVER_ERROR, database_message, None
        _log_once(original, logging.ERROR, "Unhandled error in a resolver", exc_info=original)
        return INTERNAL_SERVER_ERROR, "Internal server error.", None
    if default_code == BAD_USER_INPUT or error.message.startswith("Expected value of type"):
        return BAD_USER_INPUT, error.message, _field_of_graphql_message(error.message)
    return default_code, error.message, None


# PostgreSQL's SQLSTATEs: a statement cancelled by statement_timeout; the server shutting
# down or starting up (class 08 is every connection exception).
QUERY_CANCELED = "57014"
SERVER_GOING_OR_COMING = {"57P01", "57P02", "57P03"}


def database_failure_message(error: BaseException | None) -> str | None:
    """What to tell the client about a database failure it may retry, or None if `error` is
    not one (then it is a bug, answered as one): a statement over the time limit, or a
    database that cannot be reached or is busy."""
    if not isinstance(error, DatabaseDriverError):
        return None
    sqlstate = getattr(error.__cause__, "pgcode", None)
    if sqlstate == QUERY_CANCELED:
        return "The database took too long to answer and the operation was cancelled (statement timeout)."
    if _database_unavailable(error, sqlstate):
        return "The database is unavailable; try again shortly."
    return None


def _database_unavailable(error: DatabaseDriverError, sqlstate: str | None) -> bool:
    if isinstance(error, InterfaceError):  # the connection is closed
        return True
    if not isinstance(error, OperationalError):
        return False
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in SERVER_GOING_OR_COMING
    # No SQLSTATE: psycopg2 could not reach the server or lost it; or SQLite is locked.
    driver = type(error.__cause__).__module__ or ""
    return driver.startswith("psycopg2") or "database is locked" in str(error)


def _log_once(error: BaseException, level: int, message: str, *args: Any, **kwargs: Any) -> None:
    """Log an error the first time it is classified: one failed batch load is the error of
    every field that waited on it (hundreds, on a home screen), but one event to log."""
    if getattr(error, "_calendar_logged", False):
        return
    error._calendar_logged = True  # type: ignore[attr-defined]  # our mark on the exception itself
    logger.log(level, message, *args, **kwargs)


def format_error(error: GraphQLError, default_code: str = INTERNAL_SERVER_ERROR) -> GraphQLFormattedError:
    code, message, field = classify(error, default_code)
    formatted = error.formatted
    formatted["message"] = message
    extensions = {**(formatted.get("extensions") or {}), "code": code}
    if field:
        extensions["field"] = field
    limited = _api_error_of(error.original_error)
    if isinstance(limited, RateLimited):
        extensions["retryAfter"] = limited.retry_after
    formatted["extensions"] = extensions
    return formatted


def error_body(message: str, code: str = BAD_REQUEST, **extensions: Any) -> dict[str, Any]:
    """The body of an error that stops a request before any operation runs."""
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def rate_limited_body(limited: RateLimited) -> dict[str, Any]:
    """The body of an operation refused by a rate limit before it ran."""
    return error_body(limited.message, RATE_LIMITED, retryAfter=limited.retry_after)
