"""Lists in the response cache: an answer showing someone else's public list is served from the cache until its
owner changes the list, and then never again; a private list never reaches anyone else through a cached answer,
and an answer that found nothing under a slug goes stale once a readable list appears there."""

import json

import pytest
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from catalog.models import Movie
from tests.users.factories import PASSWORD, person_create
from users import custom_lists
from users.services import user_delete

pytestmark = pytest.mark.usefixtures("movielens", "redis_cache")

READ = "query($slug: String!) { list(slug: $slug) { name public movies { edges { position node { title } } } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on List { name movies { totalCount } } } }"


def post(client, variables: dict, *, query: str = READ, user=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {get_token(user)}"} if user is not None else {}
    body = json.dumps({"query": query, "variables": variables})
    response = client.post("/graphql", data=body, content_type="application/json", **headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.content[:300]
    return response


def committed(django_capture_on_commit_callbacks, change):
    with django_capture_on_commit_callbacks(execute=True):
        return change()


@pytest.fixture
def ada():
    return person_create("ada", password=PASSWORD)


@pytest.fixture
def grace():
    return person_create("grace", password=PASSWORD)


def toy_story():
    return Movie.objects.get(movielens_id=1)


def test_others_see_an_owners_edit_of_a_public_list_at_once(client, ada, grace, django_capture_on_commit_callbacks):
    shared = committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_create(user=ada, name="Open", public=True),
    )
    slug = {"slug": shared.slug}
    for reader in (None, grace):
        assert post(client, slug, user=reader)["X-Cache"] == "MISS"
        hit = post(client, slug, user=reader)
        assert hit["X-Cache"] == "HIT"
        assert hit.json()["data"]["list"]["movies"]["edges"] == []

    committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_add(user=ada, list_id=shared.pk, movie=toy_story()),
    )
    for reader in (None, grace):
        fresh = post(client, slug, user=reader)
        assert fresh["X-Cache"] == "MISS"
        assert fresh.json()["data"]["list"]["movies"]["edges"] == [{"position": 1, "node": {"title": "Toy Story"}}]
        assert post(client, slug, user=reader)["X-Cache"] == "HIT"

    committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_update(user=ada, list_id=shared.pk, name="Renamed"),
    )
    assert post(client, slug)["X-Cache"] == "MISS"
    assert post(client, slug).json()["data"]["list"]["name"] == "Renamed"


def test_a_list_made_private_disappears_from_cached_answers(client, ada, grace, django_capture_on_commit_callbacks):
    shared = committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_create(user=ada, name="Open", public=True),
    )
    node = {"id": _global_id(shared)}
    for reader in (None, grace):
        assert post(client, {"slug": shared.slug}, user=reader).json()["data"]["list"]["name"] == "Open"
        assert post(client, node, query=NODE, user=reader).json()["data"]["node"]["name"] == "Open"
    committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_update(user=ada, list_id=shared.pk, public=False),
    )
    for reader in (None, grace):
        assert post(client, {"slug": shared.slug}, user=reader).json()["data"]["list"] is None
        assert post(client, node, query=NODE, user=reader).json()["data"]["node"] is None
    assert post(client, {"slug": shared.slug}, user=ada).json()["data"]["list"]["name"] == "Open"

    # Deleting the owner's account takes the list with it, for every cached answer too.
    committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_update(user=ada, list_id=shared.pk, public=True),
    )
    assert post(client, {"slug": shared.slug}).json()["data"]["list"]["name"] == "Open"
    committed(django_capture_on_commit_callbacks, lambda: _delete_account(ada))
    assert post(client, {"slug": shared.slug}).json()["data"]["list"] is None


def test_a_private_list_read_by_its_owner_never_reaches_anyone_else(
    client, ada, grace, django_capture_on_commit_callbacks
):
    private = committed(
        django_capture_on_commit_callbacks, lambda: custom_lists.custom_list_create(user=ada, name="Secret")
    )
    slug = {"slug": private.slug}
    assert post(client, slug, user=ada).json()["data"]["list"]["name"] == "Secret"
    assert post(client, slug, user=ada)["X-Cache"] == "HIT"
    for reader in (None, grace):
        assert post(client, slug, user=reader).json()["data"]["list"] is None
        cached = post(client, slug, user=reader)  # their own (empty) answer, not the owner's
        assert cached["X-Cache"] == "HIT" and cached.json()["data"]["list"] is None

    # Published: the answers that found nothing under the slug are stale.
    committed(
        django_capture_on_commit_callbacks,
        lambda: custom_lists.custom_list_update(user=ada, list_id=private.pk, public=True),
    )
    for reader in (None, grace):
        assert post(client, slug, user=reader).json()["data"]["list"]["name"] == "Secret"


def _global_id(custom_list) -> str:
    return to_global_id("List", custom_list.pk)


def _delete_account(user) -> None:
    user_delete(user=user)
