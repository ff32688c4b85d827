"""Custom lists through HTTP requests to /graphql: the owner's whole flow, and what another user, an anonymous
caller and someone guessing slugs or ids get (nothing, and nothing that tells a private list exists)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from catalog.models import Movie
from tests.users.factories import movie_global_id, person_create
from users.models import CustomList, CustomListEntry

pytestmark = pytest.mark.usefixtures("movielens")

ERRORS = "errors { field message code }"
LIST_FIELDS = "id slug name description public"
MOVIES = (
    "movies(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } "
    "edges { position note node { title inMyLists { name } } } }"
)
CREATE = f"""mutation($name: String!, $description: String, $public: Boolean) {{
  createList(name: $name, description: $description, public: $public) {{ list {{ {LIST_FIELDS} }} {ERRORS} }}
}}"""
UPDATE = f"""mutation($list: ID!, $name: String, $description: String, $public: Boolean) {{
  updateList(listId: $list, name: $name, description: $description, public: $public) {{
    list {{ {LIST_FIELDS} }} {ERRORS}
  }}
}}"""
DELETE = f"mutation($list: ID!) {{ deleteList(listId: $list) {{ list {{ id slug }} {ERRORS} }} }}"
ADD = f"""mutation($list: ID!, $movie: ID!, $note: String) {{
  addToList(listId: $list, movieId: $movie, note: $note) {{ list {{ id }} {ERRORS} }}
}}"""
REMOVE = f"""mutation($list: ID!, $movie: ID!) {{
  removeFromList(listId: $list, movieId: $movie) {{ list {{ id }} {ERRORS} }}
}}"""
MOVE = f"""mutation($list: ID!, $movie: ID!, $position: Int!) {{
  moveInList(listId: $list, movieId: $movie, position: $position) {{ list {{ id }} {ERRORS} }}
}}"""
BY_SLUG = f"query($slug: String!, $first: Int, $after: String) {{ list(slug: $slug) {{ {LIST_FIELDS} {MOVIES} }} }}"
BY_NODE = "query($id: ID!) { node(id: $id) { ... on List { name } } }"
MY_LISTS = "{ me { lists { totalCount edges { node { name public } } } } }"


def movie(movielens_id: int) -> Movie:
    return Movie.objects.get(movielens_id=movielens_id)


@pytest.fixture
def ada():
    return person_create("ada")


@pytest.fixture
def grace():
    return person_create("grace")


def create(gql, user, name="Horror night", **variables) -> dict:
    payload = gql.data(CREATE, {"name": name, **variables}, token=get_token(user))["createList"]
    assert payload["errors"] == []
    return payload["list"]


def fill(gql, user, list_id, *movielens_ids):
    for movielens_id in movielens_ids:
        variables = {"list": list_id, "movie": movie_global_id(movie(movielens_id)), "note": f"note {movielens_id}"}
        assert gql.data(ADD, variables, token=get_token(user))["addToList"]["errors"] == []


def answer(body: dict) -> dict:
    """What a response says (not its rate-limit bookkeeping)."""
    return {key: body[key] for key in ("data", "errors") if key in body}


def titles(list_data) -> list[str]:
    return [edge["node"]["title"] for edge in list_data["movies"]["edges"]]


def test_the_owners_whole_flow(gql, ada):
    made = create(gql, ada, description="Scary ones", public=False)
    assert made["slug"].startswith("horror-night-") and made["public"] is False
    assert made["description"] == "Scary ones"
    fill(gql, ada, made["id"], 1, 2, 6)  # Toy Story, Jumanji, Heat
    token = get_token(ada)

    read = gql.data(BY_SLUG, {"slug": made["slug"]}, token=token)["list"]
    assert titles(read) == ["Toy Story", "Jumanji", "Heat"]
    assert [edge["position"] for edge in read["movies"]["edges"]] == [1, 2, 3]
    assert read["movies"]["edges"][0]["note"] == "note 1"
    assert read["movies"]["edges"][0]["node"]["inMyLists"] == [{"name": "Horror night"}]

    move = {"list": made["id"], "movie": movie_global_id(movie(6)), "position": 1}
    assert gql.data(MOVE, move, token=token)["moveInList"]["errors"] == []
    read = gql.data(BY_SLUG, {"slug": made["slug"]}, token=token)["list"]
    assert titles(read) == ["Heat", "Toy Story", "Jumanji"]
    move = {"list": made["id"], "movie": movie_global_id(movie(6)), "position": 3}
    assert gql.data(MOVE, move, token=token)["moveInList"]["errors"] == []
    assert titles(gql.data(BY_SLUG, {"slug": made["slug"]}, token=token)["list"]) == ["Toy Story", "Jumanji", "Heat"]

    # Keyset pages in the list's order.
    first = gql.data(BY_SLUG, {"slug": made["slug"], "first": 2}, token=token)["list"]["movies"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 3
    after = {"slug": made["slug"], "first": 2, "after": first["pageInfo"]["endCursor"]}
    assert titles(gql.data(BY_SLUG, after, token=token)["list"]) == ["Heat"]

    # Adding again keeps the place; a note given replaces the note.
    again = {"list": made["id"], "movie": movie_global_id(movie(1)), "note": "Still the best"}
    assert gql.data(ADD, again, token=token)["addToList"]["errors"] == []
    removed = {"list": made["id"], "movie": movie_global_id(movie(2))}
    assert gql.data(REMOVE, removed, token=token)["removeFromList"]["errors"] == []
    assert gql.data(REMOVE, removed, token=token)["removeFromList"]["errors"] == []  # idempotent
    read = gql.data(BY_SLUG, {"slug": made["slug"]}, token=token)["list"]
    assert [(e["position"], e["node"]["title"], e["note"]) for e in read["movies"]["edges"]] == [
        (1, "Toy Story", "Still the best"),
        (2, "Heat", "note 6"),
    ]

    renamed = gql.data(UPDATE, {"list": made["id"], "name": "Cozy night", "public": True}, token=token)["updateList"]
    assert renamed["errors"] == []
    assert renamed["list"]["slug"] == made["slug"]  # links keep working
    assert (renamed["list"]["name"], renamed["list"]["public"], renamed["list"]["description"]) == (
        "Cozy night",
        True,
        "Scary ones",
    )
    assert gql.data(MY_LISTS, token=token)["me"]["lists"] == {
        "totalCount": 1,
        "edges": [{"node": {"name": "Cozy night", "public": True}}],
    }
    deleted = gql.data(DELETE, {"list": made["id"]}, token=token)["deleteList"]
    assert deleted == {"list": {"id": made["id"], "slug": made["slug"]}, "errors": []}
    assert gql.data(BY_SLUG, {"slug": made["slug"]}, token=token)["list"] is None
    assert not CustomListEntry.objects.exists()


def test_slugs_are_readable_unique_and_stable(gql, ada, grace):
    one, two = create(gql, ada, "Best of the 90s!"), create(gql, grace, "Best of the 90s!")
    assert one["slug"].startswith("best-of-the-90s-") and two["slug"].startswith("best-of-the-90s-")
    assert one["slug"] != two["slug"]
    assert create(gql, ada, "日本映画")["slug"].startswith("list-")


def test_a_public_list_is_read_by_anyone_and_a_private_one_by_its_owner_alone(gql, ada, grace):
    public, private = create(gql, ada, "Open", public=True), create(gql, ada, "Secret")
    fill(gql, ada, public["id"], 1)
    fill(gql, ada, private["id"], 2)
    missing = answer(gql.execute(BY_SLUG, {"slug": "no-such-list-abcdef"}))
    for token in (None, get_token(grace)):
        assert gql.data(BY_SLUG, {"slug": public["slug"]}, token=token)["list"]["name"] == "Open"
        assert gql.data(BY_NODE, {"id": public["id"]}, token=token)["node"] == {"name": "Open"}
        hidden = answer(gql.execute(BY_SLUG, {"slug": private["slug"]}, token=token))
        assert hidden == answer(gql.execute(BY_SLUG, {"slug": "no-such-list-abcdef"}, token=token)) == missing
        assert answer(gql.execute(BY_NODE, {"id": private["id"]}, token=token)) == answer(
            gql.execute(BY_NODE, {"id": to_global_id("List", 10**9)}, token=token)
        )
        # Someone else's lists are not theirs: inMyLists shows only the viewer's own.
        read = gql.data(BY_SLUG, {"slug": public["slug"]}, token=token)["list"]
        assert read["movies"]["edges"][0]["node"]["inMyLists"] == []
    assert gql.data(BY_SLUG, {"slug": private["slug"]}, token=get_token(ada))["list"]["name"] == "Secret"
    assert gql.data(MY_LISTS, token=get_token(grace))["me"]["lists"]["totalCount"] == 0


def test_guessing_slugs_finds_no_private_list(gql, ada, grace):
    private = create(gql, ada, "Diary")
    prefix = private["slug"].rsplit("-", 1)[0]
    for guess in (prefix, f"{prefix}-1", f"{prefix}-2", private["slug"].upper(), f"{private['slug']} "):
        assert gql.data(BY_SLUG, {"slug": guess}, token=get_token(grace))["list"] is None
    assert gql.data(BY_SLUG, {"slug": private["slug"]}, token=get_token(grace))["list"] is None


MUTATIONS = {
    "updateList": (UPDATE, {"name": "Mine now"}),
    "deleteList": (DELETE, {}),
    "addToList": (ADD, {"movie": "MOVIE"}),
    "removeFromList": (REMOVE, {"movie": "MOVIE"}),
    "moveInList": (MOVE, {"movie": "MOVIE", "position": 1}),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
@pytest.mark.parametrize("public", [False, True])
def test_editing_someone_elses_list_by_id_is_not_found_like_a_missing_id(gql, ada, grace, name, public):
    victim = create(gql, ada, "Ada's", public=public)
    fill(gql, ada, victim["id"], 1)
    before = list(CustomListEntry.objects.values_list("custom_list_id", "movie_id", "position", "note"))
    query, extra = MUTATIONS[name]
    variables = {key: movie_global_id(movie(1)) if value == "MOVIE" else value for key, value in extra.items()}
    attack = gql.data(query, {"list": victim["id"], **variables}, token=get_token(grace))[name]
    missing = gql.data(query, {"list": to_global_id("List", 10**9), **variables}, token=get_token(grace))[name]
    assert (
        attack
        == missing
        == {
            "list": None,
            "errors": [{"field": "listId", "message": "You have no list with this id.", "code": "NOT_FOUND"}],
        }
    )
    anonymous = gql.execute(query, {"list": victim["id"], **variables})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert list(CustomListEntry.objects.values_list("custom_list_id", "movie_id", "position", "note")) == before
    assert CustomList.objects.get().name == "Ada's"


def test_bad_input_is_refused_with_a_code_and_writes_nothing(gql, ada, settings):
    token = get_token(ada)

    def errors(query, variables):
        payload = next(iter(gql.data(query, variables, token=token).values()))
        return [(error["field"], error["code"]) for error in payload["errors"]]

    assert errors(CREATE, {"name": "  "}) == [("name", "REQUIRED")]
    assert errors(CREATE, {"name": "x" * 101}) == [("name", "BAD_USER_INPUT")]
    assert errors(CREATE, {"name": "a\x00b", "description": "d" * 2001}) == [
        ("name", "BAD_USER_INPUT"),
        ("description", "BAD_USER_INPUT"),
    ]
    made = create(gql, ada, "Short")
    fill(gql, ada, made["id"], 1, 2)
    assert errors(MOVE, {"list": made["id"], "movie": movie_global_id(movie(1)), "position": 3}) == [
        ("position", "OUT_OF_RANGE")
    ]
    assert errors(MOVE, {"list": made["id"], "movie": movie_global_id(movie(6)), "position": 1}) == [
        ("movieId", "NOT_FOUND")
    ]
    assert errors(ADD, {"list": "not an id", "movie": movie_global_id(movie(6))}) == [("listId", "BAD_USER_INPUT")]
    assert errors(ADD, {"list": made["id"], "movie": made["id"]}) == [("movieId", "BAD_USER_INPUT")]

    settings.NEXUS_LIST_MAX_MOVIES = 2
    assert errors(ADD, {"list": made["id"], "movie": movie_global_id(movie(6))}) == [("movieId", "LIMIT_EXCEEDED")]
    settings.NEXUS_LISTS_MAX_PER_USER = 1
    assert errors(CREATE, {"name": "Another"}) == [(None, "LIMIT_EXCEEDED")]
    assert CustomList.objects.count() == 1 and CustomListEntry.objects.count() == 2


def test_in_my_lists_costs_one_query_however_many_movies(gql, ada):
    made, other = create(gql, ada, "A"), create(gql, ada, "B")
    fill(gql, ada, made["id"], 1, 2)
    fill(gql, ada, other["id"], 2)
    query = (
        'query($n: Int) { movies(first: $n, orderBy: {field: TITLE, direction: ASC}, search: "a") '
        "{ edges { node { title inMyLists { name slug } } } } }"
    )
    counts = []
    for n in (5, 40):
        with CaptureQueriesContext(connection) as queries:
            gql.data(query, {"n": n}, token=get_token(ada))
        counts.append(sum("users_customlistentry" in q["sql"] for q in queries.captured_queries))
    assert counts == [1, 1]
    read = gql.data(
        "{ a: movie(movielensId: 2) { inMyLists { name } } b: movie(movielensId: 6) { inMyLists { name } } }",
        token=get_token(ada),
    )
    assert read == {"a": {"inMyLists": [{"name": "B"}, {"name": "A"}]}, "b": {"inMyLists": []}}


LISTS_WITH_MOVIES = """query($after: String) { me { lists(first: 20) { edges { node { name
  movies(first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { position note node { title } }
  }
} } } } }"""


def test_a_page_of_lists_with_their_first_movies_costs_the_same_however_many_lists(gql, ada):
    counts = []
    for number in range(6):
        fill(gql, ada, create(gql, ada, f"List {number}")["id"], *(1, 2, 3)[: number % 4])
        if number in (1, 5):
            with CaptureQueriesContext(connection) as queries:
                edges = gql.data(LISTS_WITH_MOVIES, token=get_token(ada))["me"]["lists"]["edges"]
            counts.append(sum("users_customlistentry" in query["sql"] for query in queries.captured_queries))
    assert counts == [2, 2]  # the counts of every list, then the first entries of every list
    lists = {edge["node"]["name"]: edge["node"]["movies"] for edge in edges}
    assert lists["List 0"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    three = lists["List 3"]
    assert three["totalCount"] == 3 and three["pageInfo"]["hasNextPage"] is True
    assert [(edge["position"], edge["node"]["title"], edge["note"]) for edge in three["edges"]] == [
        (1, movie(1).title, "note 1"),
        (2, movie(2).title, "note 2"),
    ]
    # A later page (with a cursor) is read list by list, and goes on where the first page stopped.
    later = gql.data(LISTS_WITH_MOVIES, {"after": three["pageInfo"]["endCursor"]}, token=get_token(ada))
    rest = {edge["node"]["name"]: edge["node"]["movies"]["edges"] for edge in later["me"]["lists"]["edges"]}
    assert [(edge["position"], edge["node"]["title"]) for edge in rest["List 3"]] == [(3, movie(3).title)]
