"""The admin and GraphiQL in a real headless Chromium (Debian's chromium and chromium-driver, with Selenium).

The browser talks to a Nexus server of its own (runserver in a subprocess) over a database of its own,
created, migrated and filled here and dropped afterwards: pytest's test database holds the session's MovieLens
data, which a server in another process could not see inside the tests' transactions, and must not change.
"""

import json
import os
import shutil
from urllib.parse import quote

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import need
from tests.servers import PYTHON, free_port, http_get, running, scratch_database, wait_until

ADMIN_USERNAME = "operator"
ADMIN_PASSWORD = "browser-test-password-4821"
# Quiet, reproducible Chromium: no sandbox (tests run as root), no GPU, and none of the background traffic
# (updates, sync, field trials) that would make a run depend on the network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]
GENRES = ["Adventure", "Animation", "Crime"]
MOVIES = [
    {
        "movielens_id": 1,
        "tmdb_id": 862,
        "imdb_id": "tt0114709",
        "title": "Toy Story",
        "year": 1995,
        "genres": [1, 2],
    },
    {
        "movielens_id": 3114,
        "tmdb_id": 863,
        "imdb_id": "tt0120363",
        "title": "Toy Story 2",
        "year": 1999,
        "genres": [1, 2],
    },
    {"movielens_id": 6, "tmdb_id": 949, "imdb_id": "tt0113277", "title": "Heat", "year": 1995, "genres": [3]},
]


def catalog_fixture() -> list[dict]:
    """A few movies in Django's fixture format, for `manage.py loaddata`."""
    genres = [
        {"model": "catalog.genre", "pk": pk, "fields": {"name": name, "slug": name.lower()}}
        for pk, name in enumerate(GENRES, start=1)
    ]
    movies = [
        {
            "model": "catalog.movie",
            "pk": pk,
            "fields": {**movie, "movielens_title": f"{movie['title']} ({movie['year']})"},
        }
        for pk, movie in enumerate(MOVIES, start=1)
    ]
    return genres + movies


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    with scratch_database(f"nexus_e2e_browser_{os.getpid()}", sqlite_folder=tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def site(database_url, tmp_path_factory):
    """runserver over the browser tests' own database: migrated, a few movies, one superuser."""
    need(bool(shutil.which("chromium")), "needs Debian's chromium (apt-get install chromium chromium-driver)")
    need(bool(shutil.which("chromedriver")), "needs Debian's chromium-driver")
    folder = tmp_path_factory.mktemp("browser-site")
    env = {
        "DEBUG": "1",  # runserver serves the static files (admin, GraphiQL) only with DEBUG on
        "DATABASE_URL": database_url,
        "NEXUS_VAR_DIR": str(folder),
        "DJANGO_SUPERUSER_USERNAME": ADMIN_USERNAME,
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
    }
    fixture = folder / "catalog.json"
    fixture.write_text(json.dumps(catalog_fixture()))
    for command in (["migrate", "--noinput"], ["loaddata", str(fixture)], ["createsuperuser", "--noinput"]):
        with running([PYTHON, "manage.py", *command], env=env, log_path=folder / "setup.log") as process:
            assert process.wait(timeout=120) == 0, (folder / "setup.log").read_text()[-3000:]
    port = free_port()
    log_path = folder / "server.log"
    with running([PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, log_path=log_path):
        base_url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: http_get(f"{base_url}/health/live")[0] == 200,
            timeout=60,
            what="runserver",
            log_path=log_path,
        )
        yield base_url


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def wait(browser, condition, timeout: float = 15):
    return WebDriverWait(browser, timeout).until(condition)


def test_admin_log_in_search_a_movie_and_open_it(site, browser):
    browser.get(f"{site}/admin/")
    wait(browser, expected_conditions.title_contains("Log in"))
    browser.find_element(By.ID, "id_username").send_keys(ADMIN_USERNAME)
    browser.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD + Keys.ENTER)
    wait(browser, expected_conditions.title_contains("Site administration"))

    browser.find_element(By.LINK_TEXT, "Movies").click()
    search_box = wait(browser, expected_conditions.visibility_of_element_located((By.ID, "searchbar")))
    search_box.send_keys("toy story" + Keys.ENTER)
    wait(browser, expected_conditions.url_contains("q=toy+story"))
    titles = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody th a")]
    assert titles and set(titles) == {"Toy Story", "Toy Story 2"}

    browser.find_element(By.LINK_TEXT, "Toy Story").click()
    title_field = wait(browser, expected_conditions.visibility_of_element_located((By.ID, "id_title")))
    assert title_field.get_attribute("value") == "Toy Story"
    assert browser.find_element(By.ID, "id_tmdb_id").get_attribute("value") == "862"


def test_graphiql_type_and_run_a_query(site, browser):
    browser.get(f"{site}/graphql")
    editor = wait(
        browser,
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")),
    )
    editor.click()
    typing = webdriver.ActionChains(browser)
    typing.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.BACKSPACE)
    # The editor closes brackets itself and types over a closing bracket that is already there.
    typing.send_keys("{ movie(tmdbId: 862) { title year } }").perform()
    typed = browser.execute_script("return arguments[0].CodeMirror.getValue()", editor)
    assert typed == "{ movie(tmdbId: 862) { title year } }"

    # GraphiQL re-reads the document's operations a moment after typing: until then the button still offers the
    # example's several operations as a menu instead of running.
    wait(browser, lambda _: not execute_button(browser).get_attribute("aria-haspopup"))
    execute_button(browser).click()
    result = browser.find_element(By.CSS_SELECTOR, ".result-window")
    wait(browser, lambda _: '"title": "Toy Story"' in result.text)
    assert '"year": 1995' in result.text


def execute_button(browser):
    return browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button")


def editor_text(browser) -> str:
    editor = wait(
        browser,
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")),
    )
    return browser.execute_script("return arguments[0].CodeMirror.getValue()", editor)


def test_graphiql_opens_a_shared_link_with_its_query_and_the_schema(site, browser):
    query = "{ movie(tmdbId: 862) { title year } }"
    browser.get(f"{site}/graphql?query={quote(query)}")
    assert editor_text(browser) == query
    # The address keeps the query in its fragment, where GraphiQL updates it: requests go to /graphql itself.
    assert browser.execute_script("return location.search") == ""
    assert query in browser.execute_script("return decodeURIComponent(location.hash)")

    # The schema loaded (its introspection was not overridden by the link's query): the docs show its types.
    browser.find_element(By.CSS_SELECTOR, "[aria-label='Show Documentation Explorer']").click()
    docs = wait(browser, expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".graphiql-doc-explorer")))
    wait(browser, lambda _: "Query" in docs.text)
    assert "Unknown operation" not in browser.find_element(By.TAG_NAME, "body").text

    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    result = browser.find_element(By.CSS_SELECTOR, ".result-window")
    wait(browser, lambda _: '"title": "Toy Story"' in result.text)


def test_graphiql_first_visit_shows_the_nexus_example(site, browser):
    # GraphiQL's stored tabs cleared, for the state of a first visit: from a page of the site without GraphiQL,
    # which would store its tabs again as it unloads.
    browser.get(f"{site}/")
    browser.execute_script("localStorage.clear()")
    browser.get(f"{site}/graphql")
    example = editor_text(browser)
    assert example.startswith("# Nexus")
    for part in ("query Browse", "query Movie", "mutation SignUp", "Authorization", "Bearer", "recommendations"):
        assert part in example


def test_landing_page_example_opens_graphiql_with_its_query(site, browser):
    browser.get(f"{site}/")
    assert browser.title.startswith("Nexus")
    example = browser.find_element(By.CSS_SELECTOR, "a[href^='/graphql?query=']")
    query = example.find_element(By.XPATH, "following-sibling::code").text
    example.click()
    assert editor_text(browser) == query
