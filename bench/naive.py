"""The naive baseline of the benchmarks: the same view, schema and resolvers run as a typical
graphene-django server runs them, by graphql-core's path alone (no compiled plans) with
loaders that do not batch: one query per friend and per event. Never used to serve requests.

`NaiveGraphQLView.as_view()` is the view the bench measures as "naive" (bench/measure.py). It
changes only what production code lets a subclass change: the view's `context_class`, the
context's `loader_registry`, the registry's `schedule` and `prime`; and it answers with
GRAPHQL_COMPILED_PLANS off, the setting that sends every operation down graphql-core's path.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.test import override_settings

from loaders.base import DataLoader, LoaderRegistry
from schema.context import RequestContext
from schema.view import GraphQLView


class NaiveLoaderRegistry(LoaderRegistry):
    """Every key asked with `load` is loaded at once, alone, and nothing is primed: a loader
    asked for one key is a resolver fetching one row."""

    def schedule(self, loader: DataLoader) -> None:
        loader.dispatch()

    def prime(self, loader: DataLoader, key: Hashable, value: Any) -> None:
        pass


class NaiveRequestContext(RequestContext):
    loader_registry = NaiveLoaderRegistry


class NaiveGraphQLView(GraphQLView):
    """GraphQLView with naive loaders and without compiled plans. Turning the setting off and on
    around each request also empties the document cache each time: like a typical
    graphene-django server, the naive one parses and validates every request."""

    context_class = NaiveRequestContext

    def dispatch(self, request, *args, **kwargs):
        with override_settings(GRAPHQL_COMPILED_PLANS=False):
            return super().dispatch(request, *args, **kwargs)
