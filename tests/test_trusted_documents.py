"""Trusted documents (schema/trusted_documents.py): the manifest of the app's operations, and
with GRAPHQL_TRUSTED_DOCUMENTS set, only those operations for non-staff clients."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings

from calendarapp.models import User
from schema.documents import documents
from schema.trusted_documents import check_manifest
from tests.test_persisted_queries import PreparationSpy, by_hash, sha256
from tests.test_query_counts import OPERATIONS_DIR

HOME_SCREEN = (OPERATIONS_DIR / "home_screen.graphql").read_text()
OTHER = "query Directory { viewer { username friendCount } }"
VARIABLES = {"date": "2026-11-23"}


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "trusted-documents.json"
    call_command("trusted_documents", out=str(path), stdout=io.StringIO())
    return path


@pytest.fixture
def trusted_only(manifest):
    documents.clear()
    cache.clear()
    with override_settings(GRAPHQL_TRUSTED_DOCUMENTS=str(manifest)):
        yield manifest
    documents.clear()


def assert_not_trusted(answer) -> None:
    assert answer.status == 403, answer.body
    assert answer.body == {
        "errors": [
            {
                "message": "This server runs only the app's own operations (trusted documents), "
                "and this one is not among them.",
                "extensions": {"code": "FORBIDDEN"},
            }
        ]
    }


# ------------------------------------------------------------------ the manifest


def test_the_manifest_lists_every_operation_file_by_its_sha256(manifest):
    written = json.loads(manifest.read_text())
    assert written["format"] == "apollo-persisted-query-manifest" and written["version"] == 1
    files = sorted(OPERATIONS_DIR.glob("*.graphql"))
    assert [operation["body"] for operation in written["operations"]] == [path.read_text() for path in files]
    assert all(operation["id"] == sha256(operation["body"]) for operation in written["operations"])
    home = next(operation for operation in written["operations"] if operation["name"] == "HomeScreen")
    assert home["type"] == "query"


def test_check_fails_on_a_manifest_that_is_not_up_to_date(manifest):
    call_command("trusted_documents", out=str(manifest), check=True, stdout=io.StringIO())
    manifest.write_text(manifest.read_text().replace("HomeScreen", "HomeScreenOld"))
    with pytest.raises(CommandError, match="is not the manifest of"):
        call_command("trusted_documents", out=str(manifest), check=True)


def test_the_system_check_reports_a_missing_or_altered_manifest(manifest, tmp_path):
    with override_settings(GRAPHQL_TRUSTED_DOCUMENTS=str(tmp_path / "missing.json")):
        [error] = check_manifest()
        assert error.id == "calendar.E001" and "manage.py trusted_documents" in error.msg
    manifest.write_text(manifest.read_text().replace("viewer {", "viewer { id"))
    with override_settings(GRAPHQL_TRUSTED_DOCUMENTS=str(manifest)):
        [error] = check_manifest()
        assert "whose id is not its SHA-256" in error.msg
    with override_settings(GRAPHQL_TRUSTED_DOCUMENTS=""):
        assert check_manifest() == []


# ------------------------------------------------------------------ the mode


def test_off_by_default_any_valid_operation_runs(gql, token):
    assert gql(OTHER, token=token).ok() == {"viewer": {"username": "alice", "friendCount": 0}}


def test_the_apps_operation_runs_by_text(gql, token, trusted_only):
    assert gql(HOME_SCREEN, VARIABLES, token=token).ok()["viewer"]["friends"]["totalCount"] == 0


def test_the_apps_operation_runs_by_hash_alone_without_the_shared_cache(gql, token, trusted_only):
    answer = gql.post(by_hash(HOME_SCREEN, VARIABLES), token=token)
    assert answer.ok()["viewer"]["friends"]["totalCount"] == 0
    assert cache.get(f"graphql:apq:v1:{sha256(HOME_SCREEN)}") is None  # nothing registered either


def test_any_other_operation_is_refused_before_it_is_parsed(gql, token, trusted_only, monkeypatch):
    spy = PreparationSpy(monkeypatch)
    assert_not_trusted(gql(OTHER, token=token))
    assert_not_trusted(gql(OTHER))  # anonymous too
    assert_not_trusted(gql.post(by_hash(OTHER, with_query=True), token=token))
    assert_not_trusted(gql.post(by_hash(OTHER), token=token))
    assert_not_trusted(gql("{ __schema { types { name } } }", token=token))
    assert (spy.parsed, spy.validated) == (0, 0)


def test_in_a_batch_each_operation_is_judged_on_its_own(gql, token, trusted_only):
    answer = gql.post([{"query": OTHER}, {"query": HOME_SCREEN, "variables": VARIABLES}], token=token)
    assert answer.body[0]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert answer.body[1]["data"]["viewer"]["friends"]["totalCount"] == 0


def test_a_staff_token_runs_anything(gql, world, trusted_only):
    staff = world.user("admin")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    assert gql(OTHER, token=world.token(staff)).ok() == {"viewer": {"username": "admin", "friendCount": 0}}


def test_a_staff_session_in_graphiql_runs_anything(client, world, trusted_only):
    staff = world.user("admin")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    client.force_login(staff)
    client.get("/graphql", HTTP_ACCEPT="text/html")  # GraphiQL sets the CSRF cookie
    response = client.post(
        "/graphql",
        {"query": OTHER},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"data": {"viewer": {"username": "admin", "friendCount": 0}}}


def test_the_build_step_writes_the_manifest_the_setting_names():
    """bin/post_compile writes var/trusted-documents.json, which GRAPHQL_TRUSTED_DOCUMENTS may name
    by a path relative to the project's folder."""
    import os
    import subprocess
    import sys

    from tests.test_production import ROOT, settings_in

    written = ROOT / "var" / "trusted-documents.json"
    env = {"PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}  # the build's `python`
    done = subprocess.run([str(ROOT / "bin" / "post_compile")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(written.read_text())["operations"]
    values = settings_in(
        ["GRAPHQL_TRUSTED_DOCUMENTS"],
        settings_module="config.settings.dev",
        GRAPHQL_TRUSTED_DOCUMENTS="var/trusted-documents.json",
    )
    assert values["GRAPHQL_TRUSTED_DOCUMENTS"] == str(written)
