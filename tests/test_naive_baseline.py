"""The benchmarks' naive baseline (bench/naive.py): the same view and schema on graphql-core's
path with loaders that do not batch. Its figures mean something only if it answers as ours
does, at a query per row."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from bench.naive import NaiveGraphQLView, NaiveLoaderRegistry
from schema.view import GraphQLView
from tests.test_loaders import RecordingLoader
from tests.test_query_counts import OPERATIONS_DIR, VARIABLES, seed

FRIENDS = 3


def test_every_load_is_its_own_query_and_nothing_is_primed():
    context = SimpleNamespace(batches=[], viewer=None)
    context.loaders = NaiveLoaderRegistry(context)
    futures = [RecordingLoader(context).load(key) for key in (1, 2)]
    RecordingLoader(context).prime(3, "primed")
    assert [future.result() for future in futures] == [2, 4]
    assert RecordingLoader(context).load(3).result() == 6
    assert context.batches == [[1], [2], [3]]
    assert not context.loaders.has_pending()


@pytest.mark.django_db
@pytest.mark.parametrize("operation", ["home_screen", "friends_feed", "friend_day"])
def test_the_naive_view_answers_as_ours_does_with_more_queries(operation):
    """With compiled plans on (the default), as production runs: the naive view must not take
    them, or its loaders would batch through them."""
    power, token = seed(FRIENDS)
    body = json.dumps(
        {"query": (OPERATIONS_DIR / f"{operation}.graphql").read_text(), "variables": VARIABLES[operation](power)}
    )
    factory = RequestFactory()

    def answer(view) -> tuple[dict, int]:
        request = factory.post("/graphql", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        with CaptureQueriesContext(connection) as queries:
            response = view(request)
        assert response.status_code == 200, response.content
        return json.loads(response.content), len(queries)

    ours, our_queries = answer(GraphQLView.as_view())
    naive, naive_queries = answer(NaiveGraphQLView.as_view())
    assert "errors" not in ours and ours["data"]
    assert naive == ours
    assert naive_queries >= our_queries + FRIENDS  # a query per friend at least: it does not batch
