"""Normalized client caches (Apollo's InMemoryCache, Relay, urql's graphcache) stay right with their defaults:
every object a client caches has a stable global `id`, mutations return what they changed, and `node(id:)`
fetches an object only for whoever may see it today, answering null to anyone else exactly as for an id no
object has."""

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from catalog.models import Genre
from recommender.models import ModelRun
from schema.api import schema
from tests.users.factories import PASSWORD, movie_create, movie_global_id, person_create
from users import services
from users.models import Favorite, Rating, WatchEvent

pytestmark = pytest.mark.django_db

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
ME_RATINGS = """{ me { __typename id username
  ratings(first: 10) { totalCount edges { node { __typename id score movie { __typename id myRating } } } }
} }"""
RATE = """mutation($movie: ID!, $score: Float!) { rateMovie(movieId: $movie, score: $score) {
  rating { __typename id score updatedAt movie { __typename id myRating ratingCount } } errors { code }
} }"""
DELETE_RATING = """mutation($movie: ID!) { deleteRating(movieId: $movie) {
  deletedRatingId movie { __typename id myRating } errors { code }
} }"""

# Object types a client keeps inside their parent rather than under an id: the roots, pages and their edges,
# mutation payloads (see below), errors, a place in a recommendation list and the one recommender status.
EMBEDDED = {
    *("Query", "Mutation", "PageInfo", "Error", "Recommendation", "RecommenderStatus"),
    # Parts of an import job and the library export: values kept inside their parent.
    *("ImportCounts", "UnmatchedRow", "ImportFailure", "LibraryExport"),
    # A movie's cast members and tags: values kept inside their movie (the person has an id of its own).
    *("CastMember", "MovieTag"),
}


class NormalizedCache:
    """What a normalized client cache does with default settings (Apollo's `__typename:id` keys): every object
    with a `__typename` and an `id` is stored once under that key, with the fields of every response that
    carried it merged in; anything else stays inside its parent, which holds a reference to the object."""

    def __init__(self):
        self.objects: dict[str, dict] = {}

    def write(self, data: dict, root: str) -> None:
        self.objects.setdefault(root, {}).update(self._normalize(data))

    def read(self, root: str) -> dict:
        return self._resolve(self.objects[root])

    def evict(self, key: str) -> None:
        self.objects.pop(key, None)

    def _normalize(self, value):
        if isinstance(value, list):
            return [self._normalize(item) for item in value]
        if not isinstance(value, dict):
            return value
        fields = {name: self._normalize(field) for name, field in value.items()}
        if value.get("__typename") and value.get("id"):
            key = f"{value['__typename']}:{value['id']}"
            self.objects.setdefault(key, {}).update(fields)
            return {"__ref": key}
        return fields

    def _resolve(self, value):
        if isinstance(value, list):
            return [self._resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "__ref" in value:
            return self._resolve(self.objects[value["__ref"]]) if value["__ref"] in self.objects else None
        return {name: self._resolve(field) for name, field in value.items()}


@pytest.fixture
def ada():
    return person_create("ada")


def test_a_re_rating_updates_the_cached_ratings_list_without_refetching_it(gql, ada):
    toy_story, heat = movie_create(), movie_create()
    gql.token = get_token(ada)
    for movie, score in ((toy_story, 3.0), (heat, 2.0)):
        gql.data(RATE, {"movie": movie_global_id(movie), "score": score})
    cache = NormalizedCache()
    cache.write(gql.data(ME_RATINGS), "ROOT_QUERY")
    assert [edge["node"]["score"] for edge in cache.read("ROOT_QUERY")["me"]["ratings"]["edges"]] == [2.0, 3.0]

    answer = gql.data(RATE, {"movie": movie_global_id(toy_story), "score": 4.5})
    cache.write(answer, "ROOT_MUTATION")

    rating = Rating.objects.get(user=ada, movie=toy_story)
    assert answer["rateMovie"]["rating"]["id"] == to_global_id("Rating", rating.pk)  # the same object, re-rated
    cached = cache.read("ROOT_QUERY")["me"]["ratings"]["edges"]  # read from the cache, not asked again
    assert [(edge["node"]["score"], edge["node"]["movie"]["myRating"]) for edge in cached] == [(2.0, 2.0), (4.5, 4.5)]
    assert cache.objects[f"Movie:{movie_global_id(toy_story)}"]["ratingCount"] == 1

    # A deletion names the rating that is gone: the client evicts it, and the list no longer shows it.
    deleted = gql.data(DELETE_RATING, {"movie": movie_global_id(toy_story)})["deleteRating"]
    assert deleted["deletedRatingId"] == to_global_id("Rating", rating.pk)
    cache.write(deleted, "ROOT_MUTATION")
    cache.evict(f"Rating:{deleted['deletedRatingId']}")
    assert cache.objects[f"Movie:{movie_global_id(toy_story)}"]["myRating"] is None
    cached = cache.read("ROOT_QUERY")["me"]["ratings"]["edges"]
    assert [edge["node"]["score"] for edge in cached if edge["node"]] == [2.0]


def test_ids_are_stable_and_fetch_the_same_object(gql, ada):
    movie = movie_create()
    rating = services.rating_upsert(user=ada, movie=movie, score=4)
    event = services.watch_event_create(user=ada, movie=movie)
    genre = Genre.objects.order_by("pk").first() or Genre.objects.create(name="Testing", slug="testing")
    token = get_token(ada)
    history = "{ me { id history { edges { node { id } } } ratings { edges { node { id } } } } }"

    for _ in range(2):  # the same ids in every answer
        me = gql.data(history, token=token)["me"]
        assert me["id"] == to_global_id("User", ada.pk)
        assert me["history"]["edges"][0]["node"]["id"] == to_global_id("WatchEvent", event.pk)
        assert me["ratings"]["edges"][0]["node"]["id"] == to_global_id("Rating", rating.pk)
    for type_name, pk in (("User", ada.pk), ("Rating", rating.pk), ("WatchEvent", event.pk), ("Genre", genre.pk)):
        global_id = to_global_id(type_name, pk)
        assert gql.data(NODE, {"id": global_id}, token=token)["node"] == {"__typename": type_name, "id": global_id}
    genres = gql.data("{ genres { id name } }")["genres"]
    assert {"id": to_global_id("Genre", genre.pk), "name": genre.name} in genres


@pytest.mark.parametrize("type_name", ["User", "Rating", "WatchEvent"])
def test_node_answers_anyone_else_as_if_the_object_did_not_exist(gql, ada, type_name):
    movie = movie_create()
    owned = {
        "User": ada,
        "Rating": services.rating_upsert(user=ada, movie=movie, score=5),
        "WatchEvent": services.watch_event_create(user=ada, movie=movie),
    }[type_name]
    grace = person_create("grace")
    services.rating_upsert(user=grace, movie=movie, score=1)
    services.watch_event_create(user=grace, movie=movie)
    missing = to_global_id(type_name, 2**62)
    existing = to_global_id(type_name, owned.pk)

    for token in (None, get_token(grace)):
        for global_id in (existing, missing):
            body = gql.execute(NODE, {"id": global_id}, token=token)
            assert body["data"] == {"node": None} and "errors" not in body, body
    owner = gql.execute(NODE, {"id": existing}, token=get_token(ada))
    assert owner["data"]["node"] == {"__typename": type_name, "id": existing}


def test_node_with_the_key_of_another_type_finds_only_that_type(gql, ada):
    """A key is read as a key of the type its id names: Ada's rating's key as a WatchEvent key finds her viewing
    with that key (or nothing), never her rating."""
    movie = movie_create()
    rating = services.rating_upsert(user=ada, movie=movie, score=5)
    token = get_token(ada)
    as_event = gql.execute(NODE, {"id": to_global_id("WatchEvent", rating.pk)}, token=token)
    assert as_event["data"] == {"node": None} and "errors" not in as_event
    as_user = gql.execute(NODE, {"id": to_global_id("User", rating.pk)}, token=token)
    expected = {"__typename": "User", "id": to_global_id("User", ada.pk)} if rating.pk == ada.pk else None
    assert as_user["data"] == {"node": expected}


@pytest.mark.parametrize(
    "global_id",
    [
        to_global_id("Favorite", 1),  # a model, but not an object of the API
        to_global_id("RatingConnection", 1),  # a type of the API, but not a node
        to_global_id("Rating", "x"),
        to_global_id("Rating", -1),
        to_global_id("Rating", 2**63),
        to_global_id("", 1),
        "Rating:1",  # not base64
        "",
        "%%%",
    ],
)
def test_node_refuses_ids_that_name_no_node_type(gql, ada, global_id):
    favorite = Favorite.objects.create(user=ada, movie=movie_create())
    assert favorite.pk  # whatever exists, a malformed id finds nothing and says only that the id is malformed
    body = gql.execute(NODE, {"id": global_id}, token=get_token(ada))
    assert body["data"] == {"node": None}
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]


def test_training_runs_are_nodes_for_staff_only(gql, ada):
    run = ModelRun.objects.create(triggered_by=ModelRun.Trigger.STAFF)
    run_id = to_global_id("ModelRun", run.pk)
    staff = person_create("operator")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])

    for token in (None, get_token(ada)):
        body = gql.execute(NODE, {"id": run_id}, token=token)
        assert body["data"] == {"node": None} and "errors" not in body
    assert gql.data(NODE, {"id": run_id}, token=get_token(staff))["node"] == {"__typename": "ModelRun", "id": run_id}
    status = "{ recommenderStatus { runs { id } } }"
    assert {"id": run_id} in gql.data(status, token=get_token(staff))["recommenderStatus"]["runs"]


def test_mutations_return_the_ids_of_what_they_changed(gql, ada):
    movie = movie_create()
    token = get_token(ada)
    movie_id = movie_global_id(movie)

    watched = gql.data(
        "mutation($m: ID!) { markWatched(movieId: $m) { event { id movie { id } } errors { code } } }",
        {"m": movie_id},
        token=token,
    )["markWatched"]
    event = WatchEvent.objects.get(user=ada, movie=movie)
    assert watched["event"] == {"id": to_global_id("WatchEvent", event.pk), "movie": {"id": movie_id}}
    for name, field in (("addFavorite", "isFavorite"), ("addToWatchlist", "inWatchlist")):
        changed = gql.data(
            f"mutation($m: ID!) {{ {name}(movieId: $m) {{ movie {{ id {field} }} }} }}", {"m": movie_id}, token=token
        )
        assert changed[name]["movie"] == {"id": movie_id, field: True}
    profile = gql.data('mutation { updateProfile(bio: "Hi") { user { id bio } } }', token=token)["updateProfile"]
    assert profile["user"] == {"id": to_global_id("User", ada.pk), "bio": "Hi"}
    not_rated = gql.data(DELETE_RATING, {"movie": movie_id}, token=token)["deleteRating"]
    assert not_rated["deletedRatingId"] is None and not_rated["errors"] == []

    deleted = gql.data(
        "mutation($p: String!) { deleteAccount(password: $p) { deletedUserId deletedUsername } }",
        {"p": PASSWORD},
        token=token,
    )["deleteAccount"]
    assert deleted == {"deletedUserId": to_global_id("User", ada.pk), "deletedUsername": "ada"}


def test_every_object_a_client_caches_has_an_id():
    """Every object type is a Node (a stable `id`, fetchable through `node(id:)`) unless a client keeps it
    inside its parent: roots, pages, edges, mutation payloads, errors and the types in EMBEDDED."""
    graphql_schema = schema.graphql_schema
    payloads = {_named(field.type).name for field in graphql_schema.mutation_type.fields.values()}
    without_id = []
    for name, graphql_type in graphql_schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        if name in EMBEDDED | payloads or name.endswith(("Connection", "Edge")):
            continue
        if "Node" not in {interface.name for interface in graphql_type.interfaces}:
            without_id.append(name)
    assert without_id == []
    assert payloads >= {"RateMovie", "DeleteRating", "MarkWatched", "UpdateProfile", "RetrainRecommender"}


def _named(graphql_type):
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type
