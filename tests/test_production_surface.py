"""What a production instance shows an attacker (issue 11): HSTS that the preload list would
accept or no preload at all, and JSON errors (never Django's HTML pages) for a Host header not
in ALLOWED_HOSTS and for every other refusal outside the admin, with the health probes
answering whatever the Host."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from calendarapp.models import User
from config.error_views import BAD_HOST_MESSAGE
from tests.test_production import STRONG_KEY, django_process, settings_in

PRODUCTION_ENV = {
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "calendar.example.com",
    "GLOBAL_ID_KEY": "a-long-random-secret-for-the-ids-of-this-test-0123",
}
YEAR = 31536000


def production_responses(requests: list[str], **env: str) -> list[dict]:
    """Each `Client().<request>` in a process with production settings: status, body, headers."""
    code = (
        "import json\nfrom django.test import Client\nclient = Client()\nout = []\n"
        f"for call in {requests!r}:\n"
        "    r = eval('client.' + call)\n"
        "    out.append({'status': r.status_code, 'type': r.get('Content-Type'), 'body': r.content.decode(),"
        " 'hsts': r.get('Strict-Transport-Security'), 'location': r.get('Location')})\n"
        "print(json.dumps(out))"
    )
    result = django_process(code, **{**PRODUCTION_ENV, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- HSTS ---------------------------------------------------------------------------------------


def test_hsts_by_default_is_an_hour_with_subdomains_and_no_preload():
    values = settings_in(
        ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"], **PRODUCTION_ENV
    )
    assert values == {"SECURE_HSTS_SECONDS": 3600, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": False}
    [answer] = production_responses(["get('/healthz', secure=True, HTTP_HOST='calendar.example.com')"])
    assert answer["hsts"] == "max-age=3600; includeSubDomains"


@pytest.mark.parametrize(
    "env",
    [
        {"SECURE_HSTS_PRELOAD": "1"},
        {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": str(YEAR - 1)},
        {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": str(YEAR), "SECURE_HSTS_INCLUDE_SUBDOMAINS": "0"},
    ],
    ids=["an-hour", "a-second-short-of-a-year", "no-subdomains"],
)
def test_preload_without_what_the_preload_list_requires_is_a_clear_start_up_error(env):
    result = django_process("", **PRODUCTION_ENV, **env)
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: SECURE_HSTS_PRELOAD needs SECURE_HSTS_SECONDS of at least 31536000 (a year) and "
        "SECURE_HSTS_INCLUDE_SUBDOMAINS on" in result.stderr
    )


def test_preload_with_a_year_and_subdomains_is_sent():
    env = {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": str(YEAR)}
    [answer] = production_responses(["get('/healthz', secure=True, HTTP_HOST='calendar.example.com')"], **env)
    assert answer["hsts"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.parametrize(
    "env", [{}, {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_SECONDS": str(YEAR)}], ids=["default", "preload"]
)
def test_check_deploy_passes_with_and_without_preload(env):
    result = django_process(
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\nprint('checked')",
        **PRODUCTION_ENV,
        **env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked" in result.stdout


# --- a Host that is not ours ----------------------------------------------------------------------


BAD_HOST_BODY = {"errors": [{"message": BAD_HOST_MESSAGE, "extensions": {"code": "BAD_REQUEST"}}]}


def graphql_post(host: str, secure: bool) -> str:
    """The Client call of a GraphQL POST for `host`, as production_responses takes it."""
    return (
        "post('/graphql', {'query': '{ viewer { id } }'}, content_type='application/json', "
        f"HTTP_HOST={host!r}, secure={secure})"
    )


def test_a_bad_host_in_production_is_a_json_400_over_https_and_over_plain_http():
    answers = production_responses(
        [
            graphql_post("evil.example", secure=True),
            graphql_post("evil.example", secure=False),  # plain HTTP: the HTTPS redirect's check
            "get('/graphql', HTTP_ACCEPT='text/html', HTTP_HOST='evil.example', secure=True)",
            "get('/admin/', HTTP_HOST='evil.example', secure=True)",
            "get('/no/such/path', HTTP_HOST='evil.example', secure=True)",
        ]
    )
    for answer in answers:
        assert answer["status"] == 400, answer
        assert answer["type"] == "application/json"
        assert json.loads(answer["body"]) == BAD_HOST_BODY


def test_the_right_host_in_production_is_served_and_plain_http_redirected():
    host = "calendar.example.com"
    served, redirected = production_responses([graphql_post(host, secure=True), graphql_post(host, secure=False)])
    assert served["status"] == 200 and json.loads(served["body"]) == {"data": {"viewer": None}}
    assert redirected["status"] == 301 and redirected["location"] == "https://calendar.example.com/graphql"


@pytest.mark.parametrize("secure", [False, True], ids=["plain-http", "https"])
def test_health_probes_in_production_answer_whatever_the_host(secure):
    healthz, readyz = production_responses(
        [
            f"get('/healthz', HTTP_HOST='10.0.3.7:8000', secure={secure})",
            f"get('/readyz', HTTP_HOST='', secure={secure})",
        ]
    )
    assert healthz["status"] == 200 and json.loads(healthz["body"]) == {"status": "ok"}
    assert readyz["status"] == 200 and json.loads(readyz["body"])["checks"]["database"]["ok"] is True


@pytest.fixture
def our_host_only():
    with override_settings(ALLOWED_HOSTS=["calendar.example.com"]):
        yield


@pytest.mark.django_db
@pytest.mark.usefixtures("our_host_only")
class TestBadHost:
    @pytest.mark.parametrize(
        ("method", "path", "extra"),
        [
            ("post", "/graphql", {"data": '{"query": "{ viewer { id } }"}', "content_type": "application/json"}),
            ("get", "/graphql", {"data": {"query": "{ viewer { id } }"}}),
            ("get", "/graphql", {"HTTP_ACCEPT": "text/html"}),
            ("get", "/exports/RXhwb3J0Sm9iOjE=/download", {}),
            ("get", "/admin/login/", {}),
            ("get", "/nothing/here", {}),
        ],
        ids=["graphql-post", "graphql-get", "graphiql", "download", "admin", "unknown-path"],
    )
    def test_is_a_json_400_bad_request_on_every_path(self, method, path, extra):
        response = getattr(Client(), method)(path, HTTP_HOST="evil.example", **extra)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == BAD_HOST_BODY

    def test_writes_nothing(self):
        mutation = (
            'mutation { signup(input: {username: "mallory", password: "a-Long-pass-42", displayName: "M",'
            ' timezone: "UTC"}) { token } }'
        )
        Client().post("/graphql", {"query": mutation}, content_type="application/json", HTTP_HOST="evil.example")
        assert not User.objects.exists()

    @pytest.mark.parametrize("path", ["/healthz", "/readyz"])
    def test_health_probes_still_answer(self, path):
        response = Client().get(path, HTTP_HOST="10.0.3.7")
        assert response.status_code == 200 and response.json()["status"] == "ok"

    def test_the_right_host_is_served(self):
        response = Client().get("/graphql", {"query": "{ viewer { id } }"}, HTTP_HOST="calendar.example.com")
        assert response.status_code == 200 and response.json() == {"data": {"viewer": None}}


# --- other refusals outside a view -------------------------------------------------------------------


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    return error


@pytest.mark.django_db
class TestJsonRefusals:
    @pytest.mark.parametrize("path", ["/nothing/here", "/graphql/", "/graphql/extra", "/exports/"])
    def test_an_unknown_path_is_a_json_404(self, path):
        response = Client().get(path)
        assert response.status_code == 404
        assert error_of(response)["extensions"] == {"code": "NOT_FOUND"}

    def test_a_crash_outside_graphql_is_a_json_500_without_details(self, monkeypatch):
        import schema.downloads

        def broken(*_args, **_kwargs):
            raise RuntimeError("secret detail")

        monkeypatch.setattr(schema.downloads, "authenticate", broken)
        client = Client(raise_request_exception=False)
        response = client.get("/exports/RXhwb3J0Sm9iOjE=/download")
        assert response.status_code == 500
        assert error_of(response) == {
            "message": "Internal server error.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
        assert b"secret detail" not in response.content

    def test_a_failed_csrf_check_outside_graphql_is_a_json_403(self, world):
        client = Client(enforce_csrf_checks=True)
        client.force_login(world.user("alice"))
        response = client.post("/exports/RXhwb3J0Sm9iOjE=/download")
        assert response.status_code == 403
        error = error_of(response)
        assert error["extensions"] == {"code": "FORBIDDEN"} and error["message"].startswith("CSRF check failed: ")

    def test_the_admin_keeps_djangos_pages(self, world):
        staff = world.user("root")
        staff.is_staff = True
        staff.save()
        client = Client()
        client.force_login(staff)
        forbidden = client.get("/admin/calendarapp/event/")  # staff, without the permission
        assert forbidden.status_code == 403 and forbidden["Content-Type"].startswith("text/html")
        missing = client.get("/admin/calendarapp/nosuchmodel/")
        assert missing.status_code == 404 and missing["Content-Type"].startswith("text/html")
