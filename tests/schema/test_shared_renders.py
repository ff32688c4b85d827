"""Movie cards rendered once per card and shared between requests (schema/core/shared_renders.py): the same
answers a full execution gives, a card's render gone with the card, and never anything that depends on who asks."""

import pytest
from graphql_jwt.shortcuts import get_token

from catalog import cards
from catalog.models import Genre
from schema.core.shared_renders import MAX_SHAPES_PER_CARD, MEMO_KEY
from tests.users.factories import movie_create, movie_global_id, person_create

pytestmark = pytest.mark.django_db

# A "nonce" variable the documents do not use changes the request, not the answer: every request below misses
# the response cache and executes.
PAGE = """query Page($poster: Boolean = false) {
  movies(first: 5, genres: ["Rendered"], orderBy: {field: YEAR, direction: ASC}) { edges { node {
    __typename id title year ratingCount
    ... @include(if: $poster) { small: posterUrl(size: W92) large: posterUrl(size: W500) }
    genres { name slug }
  } } }
}"""
MY_PAGE = """query MyPage {
  movies(first: 5, genres: ["Rendered"], orderBy: {field: YEAR, direction: ASC}) {
    edges { node { id title myRating } }
  }
}"""
RATE = "mutation($movie: ID!) { rateMovie(movieId: $movie, score: 4.5) { errors { code } } }"


@pytest.fixture(autouse=True)
def _copies_kept(settings):
    """This process keeps its copies of the cards (tests otherwise read every card afresh: tests/conftest.py)."""
    settings.NEXUS_SHARED_VERSION_SECONDS = 60


@pytest.fixture
def movies(db):
    # A genre of their own: the pages below list these movies only, whatever else the catalog holds.
    rendered, drama = (
        Genre.objects.get_or_create(name=name, defaults={"slug": name.lower()})[0] for name in ("Rendered", "Drama")
    )
    made = []
    for number in range(5):
        movie = movie_create(year=1990 + number, poster_path=f"/poster{number}.jpg")
        movie.genres.set([rendered, drama] if number % 2 else [rendered])
        made.append(movie)
    return made


def renders_of(movie) -> dict:
    copy = cards._recent.get(movie.pk)
    return copy[2][1].get(MEMO_KEY, {}) if copy is not None else {}


def page(gql, nonce: str, **variables) -> list[dict]:
    return [edge["node"] for edge in gql.data(PAGE, {"nonce": nonce, **variables})["movies"]["edges"]]


def test_a_card_is_rendered_once_then_served_as_rendered(gql, movies):
    first = page(gql, "a")
    assert [len(renders_of(movie)) for movie in movies] == [1] * 5
    # What the next request answers is the kept render: a mark made in it shows.
    (render,) = renders_of(movies[0]).values()
    render["title"] = "marked"
    assert page(gql, "b")[0] == {**first[0], "title": "marked"}


def test_renders_answer_what_a_full_execution_answers(gql, movies, settings):
    rendered = [page(gql, nonce) for nonce in ("a", "b")]
    with_posters = [page(gql, nonce, poster=True) for nonce in ("c", "d")]
    settings.NEXUS_SHARED_VERSION_SECONDS = 0  # every request reads the cards afresh: nothing is shared
    assert rendered == [page(gql, "e")] * 2
    assert with_posters == [page(gql, "f", poster=True)] * 2
    # Variables that change the selection make another shape: both are kept, each with its own fields.
    assert "small" in with_posters[0][1] and "small" not in rendered[0][1]
    assert with_posters[0][1]["small"].endswith("/w92/poster1.jpg") and "/w500/" in with_posters[0][1]["large"]
    assert rendered[0][1]["genres"] == [{"name": "Drama", "slug": "drama"}, {"name": "Rendered", "slug": "rendered"}]


def test_a_selection_with_the_viewers_data_is_never_kept(gql, movies):
    alice, bob = person_create(), person_create()
    assert gql.data(RATE, {"movie": movie_global_id(movies[0])}, token=get_token(alice))["rateMovie"]["errors"] == []
    mine = gql.data(MY_PAGE, {"nonce": "a"}, token=get_token(alice))["movies"]["edges"]
    assert mine[0]["node"]["myRating"] == 4.5
    assert all(renders_of(movie) == {} for movie in movies)
    theirs = gql.data(MY_PAGE, {"nonce": "a"}, token=get_token(bob))["movies"]["edges"]
    assert [edge["node"]["myRating"] for edge in theirs] == [None] * 5


def test_a_rating_replaces_the_render_at_once(gql, movies, django_capture_on_commit_callbacks):
    assert page(gql, "a")[0]["ratingCount"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        gql.data(RATE, {"movie": movie_global_id(movies[0])}, token=get_token(person_create()))
    assert renders_of(movies[0]) == {}  # the card went with the rating, and its render with it
    assert page(gql, "b")[0]["ratingCount"] == 1


def test_a_card_keeps_a_bounded_number_of_shapes(gql, movies):
    for number in range(MAX_SHAPES_PER_CARD + 3):
        aliased = PAGE.replace("title year", f"title{number}: title year")
        gql.data(aliased, {"nonce": str(number)})
    assert len(renders_of(movies[0])) == MAX_SHAPES_PER_CARD
