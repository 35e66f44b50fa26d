"""The floor's HTTP endpoint (bench/urls.py, issue 12): only the bench's settings serve it, and
its answer over HTTP is the document /graphql answers."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import Resolver404, resolve

from bench.floor import floor_body
from bench.inprocess import DAYS, EVENTS_PER_DAY, build_fixture
from bench.operations import OPERATIONS, census, first_difference, same_document
from config.settings import base

FRIENDS = 4


def test_production_serves_no_floor_endpoint():
    assert base.ROOT_URLCONF == "config.urls"
    with pytest.raises(Resolver404):
        resolve("/bench/floor/home_screen", urlconf="config.urls")
    assert resolve("/bench/floor/home_screen", urlconf="bench.urls").url_name == "bench-floor"


@pytest.mark.postgres_only
@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_the_floor_over_http_answers_what_graphql_answers():
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
    call_command("seed_demo", friends=FRIENDS, events_per_day=EVENTS_PER_DAY, days=DAYS, reset=True, stdout=None)
    fixture = build_fixture(FRIENDS, {})
    client = Client()
    for operation in OPERATIONS:
        payload = {"query": operation.query, "variables": operation.variables(fixture.event_global_id)}
        authorization = f"Bearer {fixture.token}"
        ours = client.post(
            "/graphql", json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=authorization
        )
        floor = client.post(
            f"/bench/floor/{operation.name}", floor_body(fixture.floor_input), content_type="application/json"
        )
        assert ours.status_code == floor.status_code == 200, (ours.content[:500], floor.content[:500])
        ours_document, floor_document = ours.json(), json.loads(floor.content)
        assert not ours_document.get("errors"), ours_document
        assert census(ours_document) == census(floor_document), operation.name
        assert same_document(ours_document, floor_document), first_difference(ours_document, floor_document)


@override_settings(ROOT_URLCONF="bench.urls")
def test_the_floor_refuses_what_it_cannot_answer(db):
    client = Client()
    assert client.post("/bench/floor/nothing", "{}", content_type="application/json").status_code == 404
    assert client.post("/bench/floor/home_screen", "{}", content_type="application/json").status_code == 400
    assert client.get("/bench/floor/home_screen").status_code == 405
