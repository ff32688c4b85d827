"""GraphiQL at GET /graphql loads every script and stylesheet from Nexus itself (no CDN), with SRI hashes."""

import base64
import gzip
import hashlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from graphene_django.views import GraphQLView
from graphql import parse, validate

from schema.api import schema

GRAPHENE_GRAPHIQL_JS = "graphene_django/graphiql.js"


class AssetCollector(HTMLParser):
    """Collects the ``src``/``href`` URLs (with their ``integrity``) that make a browser fetch something."""

    def __init__(self):
        super().__init__()
        self.assets: list[tuple[str, str | None]] = []
        self.has_csrf_input = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "csrfmiddlewaretoken":
            self.has_csrf_input = bool(attributes.get("value"))
        for url_attribute in ("src", "href"):
            if url_attribute in attributes:
                self.assets.append((attributes[url_attribute], attributes.get("integrity")))

    handle_startendtag = handle_starttag


def sri_sha256(content: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(content).digest()).decode()


def static_path(url: str) -> str:
    """The staticfiles path behind a same-origin ``/static/...`` URL."""
    assert url.startswith(settings.STATIC_URL), f"{url} is not served from {settings.STATIC_URL}"
    return url.removeprefix(settings.STATIC_URL)


@pytest.fixture
def graphiql_page(client) -> AssetCollector:
    response = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    page = AssetCollector()
    page.feed(response.content.decode())
    return page


def test_graphiql_page_loads_every_asset_from_nexus_static(graphiql_page):
    urls = [url for url, _ in graphiql_page.assets]
    # graphiql + explorer CSS, six vendored scripts, Nexus' adapter of graphene-django's graphiql.js, and that script
    assert len(urls) == 10
    offsite = [url for url in urls if "http" in url or url.startswith("//")]
    assert offsite == []
    assert [url for url in urls if not url.startswith(settings.STATIC_URL)] == []
    # graphiql.js reads the CSRF token from the page when there is no cookie yet.
    assert graphiql_page.has_csrf_input


def test_graphiql_assets_exist_and_match_their_integrity(graphiql_page):
    for url, integrity in graphiql_page.assets:
        if static_path(url) == GRAPHENE_GRAPHIQL_JS:
            continue  # graphene-django's own script, installed with it, carries no integrity hash
        found = finders.find(static_path(url))
        assert found, f"{url} is not found by the staticfiles finders"
        assert integrity == sri_sha256(Path(found).read_bytes()), url


def test_graphiql_vendors_exactly_the_files_graphene_django_pins():
    """Byte for byte graphene-django's CDN files: the versions its graphiql.js was written for."""
    pinned = {value for name, value in vars(GraphQLView).items() if name.endswith("_sri")}
    vendored = {
        sri_sha256(Path(path).read_bytes())
        for path in (Path(settings.BASE_DIR) / "nexus" / "static" / "graphiql").glob("*/*")
        if path.suffix in {".js", ".css"}
    }
    assert vendored == pinned


def test_graphene_graphiql_js_runs_last_after_the_libraries_it_uses(graphiql_page):
    scripts = [static_path(url) for url, _ in graphiql_page.assets if url.endswith(".js")]
    assert scripts[-1] == GRAPHENE_GRAPHIQL_JS
    assert finders.find(GRAPHENE_GRAPHIQL_JS)


@pytest.fixture
def collected_static(settings, tmp_path):
    """What a production deploy does: collectstatic into STATIC_ROOT, which WhiteNoise then serves."""
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.mark.usefixtures("collected_static")
def test_whitenoise_serves_collected_graphiql_assets(graphiql_page, client):
    for url, integrity in graphiql_page.assets:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content)
        if integrity:
            assert integrity == sri_sha256(body), url


@pytest.mark.usefixtures("collected_static")
def test_whitenoise_serves_compressed_graphiql_bundle(graphiql_page, client):
    bundle_url, integrity = next(
        (url, integrity) for url, integrity in graphiql_page.assets if url.endswith("/graphiql.min.js")
    )
    response = client.get(bundle_url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    compressed = b"".join(response.streaming_content)
    original = gzip.decompress(compressed)
    assert integrity == sri_sha256(original)
    assert len(compressed) < len(original) / 2


def test_graphiql_example_tab_is_a_valid_document():
    """The example GraphiQL opens with (nexus/static/nexus/graphiql-nexus.js) runs against today's schema."""
    script = (Path(settings.BASE_DIR) / "nexus" / "static" / "nexus" / "graphiql-nexus.js").read_text()
    example = script.split("var NEXUS_EXAMPLE = `", 1)[1].split("`;", 1)[0]
    assert validate(schema.graphql_schema, parse(example)) == []
    assert "Authorization" in example and "Bearer" in example


def test_a_shared_link_from_a_browser_renders_graphiql_instead_of_running(client):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what Chromium sends
    response = client.get("/graphql", {"query": "{ movie(tmdbId: 862) { title } }"}, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"graphiql-nexus.js" in response.content
