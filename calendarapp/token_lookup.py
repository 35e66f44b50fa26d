"""The token lookup every authenticated request runs, with its SQL compiled once.

Django compiles a queryset's SQL anew each time it is evaluated; for the token check that
was most of the request's fixed cost (docs/benchmarks.md, "fixed cost"). `find_token` runs
the very statement `token_queryset` compiles to, compiled once per database alias and vendor
with a placeholder key, on the connection's ordinary cursor (so its execute_wrappers, such
as the request's SqlRecorder, see it), and builds the token and its user with Django's own
row-to-instance code: the same instances, with the same fields loaded and deferred, as
evaluating the queryset would give. The SQL is the ORM's, so it follows the models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]  # not in django-stubs

from .models import AuthToken

# Stands for the key hash while compiling; never sent to the database. Not a hex digest, so
# it cannot be mistaken for one.
PLACEHOLDER_KEY = "<key hash>"


def token_queryset(key_hash: str) -> QuerySet[AuthToken]:
    """The token whose key hashes to `key_hash` with what checking it reads of its user, as
    `QuerySet.first()` would fetch it (one SELECT, at most one row)."""
    return (
        AuthToken.objects.select_related("user")
        .only("user", "created_at", "last_used_at", "expires_at", "revoked_at")
        .filter(key_hash=key_hash)
        .order_by("pk")[:1]
    )


Converters = dict[int, tuple[list[Callable[..., Any]], Any]]


@dataclass(frozen=True)
class CompiledLookup:
    """`token_queryset`'s statement for one database alias and vendor, with how to turn its
    row into the token and its user (the steps of Django's ModelIterable, done once)."""

    sql: str
    params: tuple[Any, ...]
    key_position: int
    converters: Converters
    token_columns: slice
    token_attnames: list[str]
    related_populators: list[Any]

    @classmethod
    def compile(cls, connection: BaseDatabaseWrapper) -> CompiledLookup:
        compiler = token_queryset(PLACEHOLDER_KEY).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        key_positions = [position for position, param in enumerate(params) if param == PLACEHOLDER_KEY]
        if len(key_positions) != 1:
            raise AssertionError(f"the token lookup should take the key once, not {len(key_positions)} times: {sql}")
        select, klass_info = compiler.select, compiler.klass_info
        columns = klass_info["select_fields"]
        token_columns = slice(columns[0], columns[-1] + 1)
        return cls(
            sql=sql,
            params=tuple(params),
            key_position=key_positions[0],
            converters=compiler.get_converters([column[0] for column in select]),
            token_columns=token_columns,
            token_attnames=[column[0].target.attname for column in select[token_columns]],
            related_populators=get_related_populators(klass_info, select, connection.alias),
        )

    def run(self, connection: BaseDatabaseWrapper, key_hash: str) -> AuthToken | None:
        params = list(self.params)
        params[self.key_position] = key_hash
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = self.converted(row, connection)
        token = AuthToken.from_db(connection.alias, self.token_attnames, row[self.token_columns])
        for populator in self.related_populators:  # the user, into the token's related-object cache
            populator.populate(row, token)
        return token

    def converted(self, row: Sequence[Any], connection: BaseDatabaseWrapper) -> Sequence[Any]:
        """`row` with the database's values turned into the fields' (SQLite's datetimes, booleans)."""
        if not self.converters:
            return row
        values = list(row)
        for position, (converters, expression) in self.converters.items():
            for converter in converters:
                values[position] = converter(values[position], expression, connection)
        return values


# Keyed by alias and vendor: an alias is one database, and its SQL is its vendor's dialect.
_compiled: dict[tuple[str, str], CompiledLookup] = {}


def compiled_lookup(connection: BaseDatabaseWrapper) -> CompiledLookup:
    key = (connection.alias, connection.vendor)
    lookup = _compiled.get(key)
    if lookup is None:  # two threads may both compile it at first: the same result, harmless
        lookup = _compiled[key] = CompiledLookup.compile(connection)
    return lookup


def find_token(key_hash: str, connection: BaseDatabaseWrapper | None = None) -> AuthToken | None:
    """What `token_queryset(key_hash).first()` returns, on the database AuthToken is read from
    (or `connection`), without compiling its SQL again."""
    if connection is None:
        connection = connections[router.db_for_read(AuthToken)]
    return compiled_lookup(connection).run(connection, key_hash)
