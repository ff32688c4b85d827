"""Privacy: a caller reads and changes only their own profile and library, and no one else's account is reachable."""

from types import SimpleNamespace

import pytest
from graphql import GraphQLError, GraphQLList, GraphQLNonNull, GraphQLObjectType
from graphql_jwt.shortcuts import get_token
from graphql_relay import to_global_id

from schema.api import schema
from schema.users.types import UserType
from tests.users.factories import (
    movie_create,
    movie_global_id,
    person_create,
)
from users import services
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem

pytestmark = pytest.mark.django_db

ERRORS = "errors { field code }"
MOVIE_MUTATIONS = {
    "rateMovie": "rateMovie(movieId: $movie, score: 4.0) { rating { score } %s }",
    "deleteRating": "deleteRating(movieId: $movie) { movie { id } %s }",
    "addFavorite": "addFavorite(movieId: $movie) { movie { id } %s }",
    "removeFavorite": "removeFavorite(movieId: $movie) { movie { id } %s }",
    "addToWatchlist": "addToWatchlist(movieId: $movie) { movie { id } %s }",
    "removeFromWatchlist": "removeFromWatchlist(movieId: $movie) { movie { id } %s }",
    "markWatched": "markWatched(movieId: $movie) { event { watchedAt } %s }",
    "hideMovie": "hideMovie(movieId: $movie) { movie { id } %s }",
}
ACCOUNT_MUTATIONS = {
    "updateProfile": 'updateProfile(displayName: "Mallory") { user { displayName } %s }',
    "changePassword": 'changePassword(oldPassword: "x", newPassword: "a long new passphrase") { token %s }',
    "deleteAccount": 'deleteAccount(password: "x") { deletedUsername %s }',
}
ME_LIBRARY = """{ me {
  username email
  ratings { totalCount } favorites { totalCount } watchlist { totalCount } history { totalCount }
} }"""
LIBRARY_MODELS = (Rating, Favorite, WatchlistItem, HiddenMovie, WatchEvent)


def mutation(field: str) -> str:
    return f"mutation($movie: ID!) {{ {field % ERRORS} }}"


def library_rows(user: User) -> dict[str, int]:
    return {model.__name__: model.objects.filter(user=user).count() for model in LIBRARY_MODELS}


@pytest.fixture
def ada_library():
    """Ada, with one movie in every part of her library."""
    ada, movie = person_create("ada"), movie_create()
    services.rating_upsert(user=ada, movie=movie, score=5)
    services.favorite_add(user=ada, movie=movie)
    services.watchlist_add(user=ada, movie=movie)
    services.movie_hide(user=ada, movie=movie)
    services.watch_event_create(user=ada, movie=movie)
    return ada, movie


@pytest.mark.parametrize("name", [*MOVIE_MUTATIONS, *ACCOUNT_MUTATIONS])
def test_anonymous_callers_are_refused_and_change_nothing(gql, ada_library, name):
    ada, movie = ada_library
    before = library_rows(ada)
    document = (
        mutation(MOVIE_MUTATIONS[name])
        if name in MOVIE_MUTATIONS
        else f"mutation {{ {ACCOUNT_MUTATIONS[name] % ERRORS} }}"
    )
    body = gql.execute(document, {"movie": movie_global_id(movie)})
    assert body["data"] == {name: None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert library_rows(ada) == before
    ada.refresh_from_db()
    assert ada.display_name == "" and ada.check_password("correct horse battery staple")


@pytest.mark.parametrize("name", MOVIE_MUTATIONS)
def test_library_mutations_only_touch_the_callers_library(gql, ada_library, name):
    ada, movie = ada_library
    before = library_rows(ada)
    grace = person_create("grace")
    payload = gql.data(mutation(MOVIE_MUTATIONS[name]), {"movie": movie_global_id(movie)}, token=get_token(grace))
    assert payload[name]["errors"] == []
    assert library_rows(ada) == before
    assert Rating.objects.get(user=ada, movie=movie).score == 5


def test_a_second_user_sees_none_of_the_first_users_library(gql, ada_library):
    ada, movie = ada_library
    grace = person_create("grace")
    card = f'{{ movie(id: "{movie_global_id(movie)}") {{ myRating isFavorite inWatchlist ratingCount }} }}'

    assert gql.data(ME_LIBRARY, token=get_token(grace))["me"] == {
        "username": "grace",
        "email": "grace@example.com",
        "ratings": {"totalCount": 0},
        "favorites": {"totalCount": 0},
        "watchlist": {"totalCount": 0},
        "history": {"totalCount": 0},
    }
    assert gql.data(card, token=get_token(grace))["movie"] == {
        "myRating": None,
        "isFavorite": False,
        "inWatchlist": False,
        "ratingCount": 1,  # public statistics include Ada's rating, anonymously
    }
    assert gql.data(card, token=get_token(ada))["movie"] == {
        "myRating": 5.0,
        "isFavorite": True,
        "inWatchlist": True,
        "ratingCount": 1,
    }
    assert gql.data(ME_LIBRARY, token=get_token(ada))["me"]["history"] == {"totalCount": 1}


def test_account_mutations_change_only_the_callers_account(gql, ada_library):
    ada, _movie = ada_library
    grace = person_create("grace")
    token = get_token(grace)
    gql.data(f"mutation {{ {ACCOUNT_MUTATIONS['updateProfile'] % ERRORS} }}", token=token)
    deleted = gql.data(
        'mutation { deleteAccount(password: "correct horse battery staple") { deletedUsername } }', token=token
    )
    assert deleted["deleteAccount"]["deletedUsername"] == "grace"
    ada.refresh_from_db()
    assert ada.display_name == "" and library_rows(ada) == dict.fromkeys(library_rows(ada), 1)


def test_no_field_leads_to_another_users_account():
    """The User type appears only where it is the caller: `me`, and the payloads that log the caller in or
    change their own account."""
    found = set()
    for type_name, graphql_type in schema.graphql_schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            field_type = field.type
            while isinstance(field_type, GraphQLNonNull | GraphQLList):
                field_type = field_type.of_type
            if field_type.name == "User":
                found.add(f"{type_name}.{field_name}")
    assert found == {
        "Query.me",
        "Register.user",
        "TokenAuth.user",
        "UpdateProfile.user",
        "ChangePassword.user",
    }


@pytest.mark.parametrize("type_name", ["User", "Rating", "WatchEvent", "Favorite"])
def test_node_does_not_fetch_accounts_or_library_rows(gql, ada_library, type_name):
    """Accounts, ratings and viewings are nodes for their owner only: anyone else gets null, as for an id no row
    has (tests/schema/test_normalized_cache.py); a favorite is no node at all (a malformed id)."""
    ada, _movie = ada_library
    row = (
        ada
        if type_name == "User"
        else {"Rating": Rating, "WatchEvent": WatchEvent, "Favorite": Favorite}[type_name].objects.get(user=ada)
    )
    body = gql.execute("query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id(type_name, row.pk)})
    assert body["data"] == {"node": None}
    assert ("errors" in body) == (type_name == "Favorite")


def test_private_fields_refuse_anyone_but_the_account_owner():
    """A second line of defence, should a future field ever hand out another user's account."""
    ada, grace = person_create("ada"), person_create("grace")
    info = SimpleNamespace(context=SimpleNamespace(user=grace))
    with pytest.raises(GraphQLError) as exc:
        UserType.resolve_email(ada, info)
    assert exc.value.extensions == {"code": "FORBIDDEN"}
    for connection in ("ratings", "favorites", "watchlist", "history"):
        with pytest.raises(GraphQLError):
            getattr(UserType, f"resolve_{connection}")(ada, info)
    assert UserType.resolve_email(grace, info) == "grace@example.com"
