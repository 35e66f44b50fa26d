"""GraphiQL at GET /graphql in a real headless Chromium: it loads offline (every asset from
our own origin), and it runs queries as the browser session or as a Bearer token typed
into its Headers editor. Set GRAPHIQL_SCREENSHOT=/tmp/graphiql.png to keep a screenshot."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from calendarapp.models import AuthToken, User
from tests import query_snapshots

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 15

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
# The Variables and Headers editors share one panel; the one not shown carries `.hidden`.
TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
VARIABLES_EDITOR = ".graphiql-editor-tool .graphiql-editor:nth-child(1) .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:nth-child(2) .CodeMirror"
RESPONSE = ".graphiql-response"
RESPONSE_EDITOR = ".graphiql-response .CodeMirror"
EXECUTE = ".graphiql-execute-button"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# ---------------------------------------------------------------- browser


def chromium_options(profile: str) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    # Both paths explicit: selenium-manager must never try to download a browser or a driver.
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
        f"--user-data-dir={profile}",
        # As offline as the machine it must work on: no host but the live server resolves.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"The browser tests need {' and '.join(missing)}: run scripts/ensure_services.sh "
            "(as root it installs Debian's chromium and chromium-driver).",
            pytrace=False,
        )
    profile = tempfile.mkdtemp(prefix="graphiql-chromium-")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(profile))
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(driver: WebDriver, live_server) -> Iterator[WebDriver]:
    """The shared browser, left without cookies or GraphiQL's saved tabs for the next test."""
    yield driver
    driver.get(live_server.url + "/static/graphene_django_graphiql_static/style.css")
    driver.delete_all_cookies()
    driver.execute_script("window.localStorage.clear()")


def wait(driver: WebDriver) -> WebDriverWait:
    return WebDriverWait(driver, TIMEOUT)


def open_graphiql(driver: WebDriver, live_server) -> None:
    driver.get(live_server.url + "/graphql")
    wait_for_editor(driver)


def wait_for_editor(driver: WebDriver) -> None:
    wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUERY_EDITOR)), "GraphiQL did not render")


def editor_text(driver: WebDriver, selector: str) -> str:
    # Reading the model is exact, where the DOM only holds the lines on screen.
    return driver.execute_script("return document.querySelector(arguments[0]).CodeMirror.getValue()", selector)


def type_into(driver: WebDriver, selector: str, text: str) -> None:
    """Replace an editor's text by typing, as a person would: click, Ctrl+A, type."""
    editor: WebElement = driver.find_element(By.CSS_SELECTOR, selector)
    editor.click()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
    ActionChains(driver).send_keys(text).perform()
    # CodeMirror closes brackets and quotes itself and types over them when we close them, so the
    # typed text comes out as is; if it ever did not, say so rather than run something else.
    assert editor_text(driver, selector) == text


def open_headers_editor(driver: WebDriver) -> None:
    tab = driver.find_element(By.XPATH, "//div[contains(@class, 'graphiql-editor-tools')]//button[.='Headers']")
    tab.click()
    wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, TOOL_EDITOR)))


def run_query(driver: WebDriver, query: str, expected: str) -> str:
    """Type `query`, run it and wait until the result shows `expected`; return the result."""
    type_into(driver, QUERY_EDITOR, query)
    driver.find_element(By.CSS_SELECTOR, EXECUTE).click()
    try:
        wait(driver).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, RESPONSE), expected))
    except TimeoutException:
        # Show what came back instead (an error, another user) rather than a bare timeout.
        result = driver.find_element(By.CSS_SELECTOR, RESPONSE).text
        raise AssertionError(f"expected {expected} in the result, got: {result!r}") from None
    return driver.find_element(By.CSS_SELECTOR, RESPONSE).text


def log_in_session(driver: WebDriver, live_server, user: User) -> None:
    """Give the browser a Django session, as the admin login would."""
    client = Client()
    client.force_login(user)
    # A cookie can only be set for the page's own host, hence a page of the live server first.
    driver.get(live_server.url + "/static/graphene_django_graphiql_static/style.css")
    driver.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value, "path": "/"})


def is_foreign(url: str, page: str) -> bool:
    """Whether `url` (maybe relative to `page`) leaves the server; data: URLs load nothing."""
    parts = urlsplit(urljoin(page, url))
    return parts.scheme != "data" and parts.netloc != urlsplit(page).netloc


def maybe_screenshot(driver: WebDriver) -> None:
    if path := os.environ.get("GRAPHIQL_SCREENSHOT"):
        Path(path).write_bytes(driver.get_screenshot_as_png())


# ---------------------------------------------------------------- tests


def test_graphiql_loads_every_asset_from_our_origin(browser: WebDriver, live_server) -> None:
    # Assets first: a CDN reference would otherwise only show as GraphiQL never rendering.
    browser.get(live_server.url + "/graphql")
    assert browser.title == "Calendar GraphQL"
    declared = browser.execute_script(
        "return Array.from(document.querySelectorAll('script[src], link[href]'), e => e.src || e.href)"
    )
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith("graphiql.min.js") for url in declared)
    foreign = [url for url in declared + fetched if is_foreign(url, live_server.url)]
    assert foreign == [], f"GraphiQL must work offline, but the page loads {foreign}"
    wait_for_editor(browser)


def test_browser_session_runs_queries_as_its_user(browser: WebDriver, live_server) -> None:
    user = User.objects.create_user(username="alice", password="secret-pass-123", display_name="Alice")
    log_in_session(browser, live_server, user)
    open_graphiql(browser, live_server)
    result = run_query(browser, "{ viewer { username } }", '"username": "alice"')
    assert '"errors"' not in result
    maybe_screenshot(browser)


def test_bearer_token_in_the_headers_editor_authenticates(browser: WebDriver, live_server) -> None:
    user = User.objects.create_user(username="bob", password="secret-pass-123", display_name="Bob")
    token = AuthToken.issue(user)
    open_graphiql(browser, live_server)
    open_headers_editor(browser)
    type_into(browser, TOOL_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))
    run_query(browser, "{ viewer { username } }", '"username": "bob"')


def test_without_auth_the_viewer_is_null(browser: WebDriver, live_server) -> None:
    open_graphiql(browser, live_server)
    run_query(browser, "{ viewer { username } }", '"viewer": null')


# ------------------------------------------------- the schema shown to staff only


def open_docs(driver: WebDriver) -> str:
    """Open the Documentation Explorer; the text it shows once GraphiQL's schema fetch has ended."""
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Show Documentation Explorer']").click()
    explorer = ".graphiql-doc-explorer-root-type, .graphiql-doc-explorer-error"
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, explorer)), "the explorer shows nothing")
    return driver.find_element(By.CSS_SELECTOR, ".graphiql-doc-explorer").text


def test_staff_keep_the_schema_in_graphiql_when_it_is_for_staff_only(browser: WebDriver, live_server, settings):
    settings.GRAPHQL_INTROSPECTION = "staff"
    staff = User.objects.create_user(username="root", password="secret-pass-123", display_name="Root", is_staff=True)
    log_in_session(browser, live_server, staff)
    open_graphiql(browser, live_server)
    assert "query: Query" in open_docs(browser)  # GraphiQL's own introspection worked
    result = run_query(browser, "{ viewr { username } }", "Did you mean 'viewer'")
    assert "BAD_REQUEST" in result


def test_other_users_get_graphiql_without_the_schema_when_it_is_for_staff_only(
    browser: WebDriver, live_server, settings
) -> None:
    settings.GRAPHQL_INTROSPECTION = "staff"
    user = User.objects.create_user(username="carol", password="secret-pass-123", display_name="Carol")
    log_in_session(browser, live_server, user)
    open_graphiql(browser, live_server)
    assert "Error fetching schema" in open_docs(browser)
    result = run_query(browser, "{ __schema { queryType { name } } }", "is for staff only")
    assert '"data"' not in result
    run_query(browser, "{ viewer { username } }", '"username": "carol"')  # queries still run


# ------------------------------------------------- a newcomer's first page


def seed_demo_data() -> User:
    call_command("seed_demo", friends=3, events_per_day=2, days=1, stdout=StringIO())
    return User.objects.get(username="power")


def commented_out_login(opening_text: str) -> str:
    """The login mutation the opening text shows in comments, as a person would uncomment it."""
    lines = [line.removeprefix("#").strip() for line in opening_text.splitlines()]
    start = lines.index("mutation {")
    return " ".join(lines[start : lines.index("}", start) + 1])


def test_the_opening_text_logs_in_as_the_demo_user_of_make_serve(browser: WebDriver, live_server) -> None:
    seed_demo_data()
    open_graphiql(browser, live_server)
    opening = editor_text(browser, QUERY_EDITOR)
    assert "alice" not in opening
    login = commented_out_login(opening)
    assert 'username: "power"' in login and 'password: "demo"' in login
    run_query(browser, login, '"token": "')


def test_in_debug_graphiql_opens_on_the_home_screen_as_the_demo_user(browser: WebDriver, live_server, settings) -> None:
    """`make serve`: DEBUG on, and the demo user's token in GRAPHIQL_TOKEN. The first click
    runs the home screen as power, and its debug extension counts what the snapshot counts."""
    power = seed_demo_data()
    settings.DEBUG = True
    settings.GRAPHIQL_TOKEN = AuthToken.issue(power)
    open_graphiql(browser, live_server)
    home_screen = (settings.GRAPHQL_OPERATIONS_DIR / "home_screen.graphql").read_text()
    assert editor_text(browser, QUERY_EDITOR).endswith(home_screen)
    assert json.loads(editor_text(browser, VARIABLES_EDITOR)) == {"date": "2026-11-23"}
    assert json.loads(editor_text(browser, HEADERS_EDITOR)) == {"Authorization": f"Bearer {settings.GRAPHIQL_TOKEN}"}

    browser.find_element(By.CSS_SELECTOR, EXECUTE).click()  # nothing typed: what the page opened with
    wait(browser).until(lambda driver: '"sqlCount"' in editor_text(driver, RESPONSE_EDITOR), "no answer shown")
    result = json.loads(editor_text(browser, RESPONSE_EDITOR))
    assert result["data"]["viewer"]["displayName"] == "Power User"
    assert result["data"]["viewer"]["friends"]["totalCount"] == 3
    snapshot = query_snapshots.read_statements(query_snapshots.snapshot_path("home_screen"))
    assert result["extensions"]["debug"]["sqlCount"] == len(snapshot)
    maybe_screenshot(browser)

    # A reload finds the same tab rather than opening another beside it (GraphiQL shows its
    # tab bar from two tabs on), the token still in its headers.
    for _ in range(2):
        browser.refresh()
        wait_for_editor(browser)
        wait(browser).until(lambda driver: editor_text(driver, QUERY_EDITOR).endswith(home_screen))
    assert browser.find_elements(By.CSS_SELECTOR, ".graphiql-tab") == []
    assert settings.GRAPHIQL_TOKEN in editor_text(browser, HEADERS_EDITOR)
