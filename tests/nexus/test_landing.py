"""The landing page at / through Django's full HTTP stack, with DEBUG off as in production (pytest-django's
default). tests/e2e/test_browser.py follows its example links in a real browser."""

import html as html_text
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from graphql import parse, validate

from nexus.landing import EXAMPLES
from schema.api import schema


def links(html: str) -> list[str]:
    return [html_text.unescape(link) for link in re.findall(r'(?:href|src)="([^"]*)"', html)]


def test_landing_answers_get_and_head_without_touching_a_dependency(client, settings):
    # No `db` fixture: any database access here would raise.
    assert not settings.DEBUG
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<title>Nexus" in html and "recommendations" in html

    head = client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert client.post("/").status_code == 405


def test_landing_links_to_graphiql_health_metrics_and_admin(client):
    targets = {urlsplit(link).path for link in links(client.get("/").content.decode())}
    assert {"/graphql", "/health/live", "/health/ready", "/metrics", "/admin/"} <= targets


def test_landing_loads_nothing_from_elsewhere(client):
    html = client.get("/").content.decode()
    assert all(link.startswith("/") or link == "data:," for link in links(html)), links(html)
    assert "<script" not in html and "@import" not in html and "url(" not in html


def test_every_link_on_the_landing_page_answers(client, db):
    for link in {link for link in links(client.get("/").content.decode()) if link.startswith("/")}:
        # As a browser asks (GraphiQL is served to Accept: text/html); the admin sends visitors to its login page.
        response = client.get(link, headers={"Accept": "text/html,*/*;q=0.8"})
        assert response.status_code in (200, 302), (link, response.status_code)


def test_landing_examples_open_graphiql_with_a_valid_query(client):
    html = client.get("/").content.decode()
    example_links = [link for link in links(html) if "?query=" in link]
    assert len(example_links) == len(EXAMPLES)
    for link, (_, query) in zip(example_links, EXAMPLES, strict=True):
        url = urlsplit(link)
        assert url.path == reverse("graphql")
        assert parse_qs(url.query)["query"] == [query]
        errors = validate(schema.graphql_schema, parse(query))
        assert not errors, (query, errors)


@pytest.mark.parametrize("metrics_token, shown", [("", False), ("secret-metrics-token", True)])
def test_landing_says_when_metrics_need_a_token(client, settings, metrics_token, shown):
    settings.NEXUS_METRICS_TOKEN = metrics_token
    assert ("bearer token" in client.get("/").content.decode()) is shown


def test_landing_requests_are_timed_under_their_own_route(client):
    client.get("/")
    assert 'route="/"' in client.get("/metrics").content.decode()
