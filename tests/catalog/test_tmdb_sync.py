"""sync_tmdb against a fake TMDb (tests/catalog/fake_tmdb.py: a real HTTP server on a loopback port): details,
throttling and server errors retried, a missing movie skipped, new releases added, changes fetched, runs resumed
and idempotent, nothing half-written, and the result through /graphql."""

import io
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Credit, Movie, Person, TmdbSyncState
from catalog.tmdb import images
from catalog.tmdb.client import RateLimiter, TmdbError, tmdb_client
from catalog.tmdb.sync import NEW_MOVIE_ID_BASE, pending_run, sync_changes, sync_ids, sync_new, sync_nightly
from tests.catalog.fake_tmdb import IMAGE_BASE, MISSING_ID, NEW_RELEASE_ID, UPCOMING_ID, fake_tmdb_running
from tests.conftest import caches_clear

pytestmark = pytest.mark.usefixtures("movielens")

TOY_STORY = """{ movie(tmdbId: 862) { title posterUrl big: posterUrl(size: ORIGINAL) backdropUrl(size: W1280)
    tagline trailerUrl certification keywords directors { name }
    cast(first: 2) { name character profileUrl person { id name } } } }"""


@pytest.fixture
def fake(settings):
    images._base = None  # the image base this process read: each test configures its own
    with fake_tmdb_running() as (state, base_url):
        settings.TMDB_API_BASE_URL = base_url
        settings.TMDB_API_KEY = "test-key"
        settings.TMDB_READ_ACCESS_TOKEN = ""
        settings.TMDB_BACKOFF_SECONDS = 0.01
        settings.TMDB_REQUESTS_PER_SECOND = 1000
        yield state
    images._base = None


def client_sleeping_into(slept: list):
    return tmdb_client(sleep=slept.append)


def sync_command(*args) -> str:
    out = io.StringIO()
    call_command("sync_tmdb", *args, stdout=out)
    return out.getvalue()


def test_sync_ids_gives_toy_story_poster_cast_trailer_and_certification(fake, gql):
    output = sync_command("--ids", "862")
    assert "1 movies, 0 added, 1 changed" in output
    movie = gql.data(TOY_STORY)["movie"]
    assert movie["posterUrl"] == f"{IMAGE_BASE}w342/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg"
    assert movie["big"] == f"{IMAGE_BASE}original/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg"
    assert movie["backdropUrl"] == f"{IMAGE_BASE}w1280/3Rfvhy1Nl6sSGJwyjb0QiZzZYlB.jpg"
    assert movie["tagline"] == "The adventure takes off!"
    assert movie["trailerUrl"] == "https://www.youtube.com/watch?v=v-PjgYDrg70"
    assert movie["certification"] == "G"
    assert {"jealousy", "toy", "friendship"} <= set(movie["keywords"])
    assert movie["directors"] == [{"name": "John Lasseter"}]
    hanks, allen = movie["cast"]
    assert (hanks["name"], hanks["character"]) == ("Tom Hanks", "Woody (voice)")
    assert hanks["profileUrl"] == f"{IMAGE_BASE}w185/xndWFsBlClOJFRdhSt4NBwiPq2o.jpg"
    assert allen["name"] == "Tim Allen"
    # The person, and the movies filter by person.
    person_id = hanks["person"]["id"]
    person = gql.data(
        "query($id: ID!) { person(id: $id) { name profileUrl movies(first: 5) { title } } }", {"id": person_id}
    )["person"]
    assert person["name"] == "Tom Hanks" and person["movies"] == [{"title": "Toy Story"}]
    listed = gql.data("query($p: ID) { movies(person: $p) { totalCount edges { node { title } } } }", {"p": person_id})
    assert listed["movies"]["totalCount"] == 1
    # The API key went as TMDb's v3 api_key parameter.
    assert all(query.get("api_key") == "test-key" for _, query, _ in fake.requests)
    assert any(
        query.get("append_to_response") == "credits,keywords,videos,release_dates" for _, query, _ in fake.requests
    )


def test_a_bearer_token_authenticates_without_an_api_key(fake, settings):
    settings.TMDB_API_KEY, settings.TMDB_READ_ACCESS_TOKEN = "", "v4-token"
    sync_ids(tmdb_client(), [862])
    assert all(headers.get("Authorization") == "Bearer v4-token" for _, _, headers in fake.requests)
    assert not any("api_key" in query for _, query, _ in fake.requests)


def test_throttling_waits_as_long_as_retry_after_says(fake):
    fake.fail("/3/movie/862", (429, {"Retry-After": "3"}))
    slept = []
    summary = sync_ids(client_sleeping_into(slept), [862])
    assert summary.changed == 1
    assert 3.0 in slept
    assert [path for path, _, _ in fake.requests].count("/3/movie/862") == 2


def test_server_errors_are_retried_with_backoff(fake):
    fake.fail("/3/movie/862", (500, {}), (503, {}))
    slept = []
    summary = sync_ids(client_sleeping_into(slept), [862])
    assert summary.changed == 1
    assert [delay for delay in slept if delay >= 0.01] == [0.01, 0.02]  # TMDB_BACKOFF_SECONDS, then doubled


def test_a_movie_tmdb_does_not_have_is_counted_and_skipped(fake):
    summary = sync_ids(tmdb_client(), [MISSING_ID, 862])
    assert (summary.not_found, summary.not_found_ids, summary.changed) == (1, [MISSING_ID], 1)
    assert pending_run() is None


def test_a_malformed_answer_is_skipped_and_the_run_goes_on(fake):
    fake.movies[NEW_RELEASE_ID + 20] = {"id": NEW_RELEASE_ID + 20, "credits": {"cast": [{"name": "no id"}]}}
    Movie.objects.create(movielens_id=NEW_MOVIE_ID_BASE + 2, tmdb_id=NEW_RELEASE_ID + 20, title="Malformed")
    summary = sync_ids(tmdb_client(), [NEW_RELEASE_ID + 20, 862])
    assert (summary.malformed, summary.changed) == (1, 1)
    assert Movie.objects.get(tmdb_id=NEW_RELEASE_ID + 20).tmdb_synced_at is None
    assert pending_run() is None


def test_new_releases_are_added(fake, gql):
    output = sync_command("--new")
    assert "2 added" in output
    movie = gql.data(
        f"{{ movie(tmdbId: {NEW_RELEASE_ID}) {{ title movielensId releaseDate genres {{ name }} certification "
        "trailerUrl cast { name } } }"
    )["movie"]
    released = date.fromisoformat(movie["releaseDate"])
    last_month = date.today().replace(day=1) - timedelta(days=1)
    assert (released.year, released.month) == (last_month.year, last_month.month)
    assert movie["title"] == "A Film Released Last Month"
    assert movie["movielensId"] == NEW_MOVIE_ID_BASE + NEW_RELEASE_ID
    assert {genre["name"] for genre in movie["genres"]} == {"Action", "Sci-Fi"}
    assert (movie["certification"], movie["cast"]) == ("PG-13", [{"name": "Tom Hanks"}])
    assert Movie.objects.filter(tmdb_id=UPCOMING_ID).exists()
    listed = gql.data('{ movies(search: "A Film Released Last Month", first: 1) { edges { node { title } } } }')
    assert listed["movies"]["edges"][0]["node"]["title"] == "A Film Released Last Month"
    # Again: nothing is added twice, nothing changes.
    again = sync_new(tmdb_client())
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)


def test_changes_fetch_only_the_catalogs_changed_movies_since_the_last_sync(fake):
    today = date.today()
    summary = sync_changes(tmdb_client(), today=today)
    assert summary.movies == 1  # 862; the movie the catalog lacks and the adult one are not fetched
    fetched = [path for path, _, _ in fake.requests if path.startswith("/3/movie/") and path[9:].isdigit()]
    assert fetched == ["/3/movie/862"]
    changes = [query for path, query, _ in fake.requests if path == "/3/movie/changes"]
    assert changes[0]["start_date"] == (today - timedelta(days=1)).isoformat()
    assert TmdbSyncState.objects.get(name="changes-since").value == {"date": today.isoformat()}
    fake.requests.clear()
    sync_changes(tmdb_client(), today=today + timedelta(days=3))
    changes = [query for path, query, _ in fake.requests if path == "/3/movie/changes"]
    assert changes[0]["start_date"] == today.isoformat()


def test_a_run_that_fails_stops_with_nothing_half_written_and_resumes(fake):
    toy_story = fake.movies[862]
    fake.movies[NEW_RELEASE_ID + 10] = dict(toy_story, id=NEW_RELEASE_ID + 10, title="Second")
    Movie.objects.create(movielens_id=NEW_MOVIE_ID_BASE + 1, tmdb_id=NEW_RELEASE_ID + 10, title="Second")
    # The second movie's every attempt fails: the run stops after the first.
    fake.fail(f"/3/movie/{NEW_RELEASE_ID + 10}", *[(500, {})] * 5)
    with pytest.raises(CommandError, match="Run it again to resume"):
        sync_command("--ids", "862", str(NEW_RELEASE_ID + 10))
    assert pending_run() == ("ids", 1, 2)
    second = Movie.objects.get(tmdb_id=NEW_RELEASE_ID + 10)
    assert (second.poster_path, second.tmdb_synced_at, second.credits.count()) == ("", None, 0)
    assert Movie.objects.get(movielens_id=1).credits.count() == 4  # 3 cast, 1 director
    fake.requests.clear()
    output = sync_command("--ids", "862")
    assert "Resuming a ids run that stopped after 1 of 2 movies" in output
    assert "1 movies of a stopped run resumed first" in output
    assert Movie.objects.get(tmdb_id=NEW_RELEASE_ID + 10).credits.count() == 4
    assert pending_run() is None


def test_a_second_sync_changes_nothing(fake, django_capture_on_commit_callbacks):
    sync_ids(tmdb_client(), [862])
    before = (Person.objects.count(), Credit.objects.count())
    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as captured:
        again = sync_ids(tmdb_client(), [862])
    assert (again.changed, again.unchanged) == (0, 1)
    written = [query["sql"] for query in captured if query["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert all("catalog_tmdbsyncstate" in sql for sql in written), written  # only the run's bookkeeping
    assert (Person.objects.count(), Credit.objects.count()) == before
    assert callbacks == [], "an unchanged movie bumps no version"


def test_a_changed_movie_bumps_the_catalog_version(fake, django_capture_on_commit_callbacks, gql):
    sync_ids(tmdb_client(), [862])
    assert gql.data("{ movie(tmdbId: 862) { tagline } }")["movie"]["tagline"] == "The adventure takes off!"
    fake.movies[862]["tagline"] = "A new tagline."
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert sync_ids(tmdb_client(), [862]).changed == 1
    assert callbacks
    assert gql.data("{ movie(tmdbId: 862) { tagline } }")["movie"]["tagline"] == "A new tagline."


def test_without_a_key_the_sync_says_it_is_off(settings, gql):
    settings.TMDB_API_KEY = settings.TMDB_READ_ACCESS_TOKEN = ""
    with pytest.raises(CommandError, match="TMDb sync is off"):
        sync_command("--new")
    assert sync_nightly() is None
    # Everything else works: the fields are there, empty.
    movie = gql.data("{ movie(tmdbId: 862) { title cast { name } directors { name } trailerUrl } }")["movie"]
    assert movie == {"title": "Toy Story", "cast": [], "directors": [], "trailerUrl": None}


def test_a_failure_after_every_retry_is_an_error(fake):
    fake.fail("/3/configuration", *[(502, {})] * 10)
    with pytest.raises(TmdbError, match="HTTP 502"):
        sync_ids(tmdb_client(), [862])


def test_the_rate_limit_spaces_requests():
    now, slept = [0.0], []
    limiter = RateLimiter(10, clock=lambda: now[0], sleep=slept.append)
    for _ in range(3):
        limiter.wait()
    assert slept == [pytest.approx(0.1), pytest.approx(0.2)]


@pytest.mark.parametrize(("query", "variables"), [
    ("query($id: ID!) { person(id: $id) { name } }", {"id": "not-an-id"}),
    ("query($p: ID) { movies(person: $p) { totalCount } }", {"p": "TW92aWU6MQ=="}),  # a Movie id
])  # fmt: skip
def test_bad_person_ids_are_refused_clearly(gql, query, variables):
    body = gql.execute(query, variables)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_cast_and_directors_load_in_one_query_per_page(fake, gql):
    sync_ids(tmdb_client(), [862, NEW_RELEASE_ID])
    query = """query($n: Int) { movies(first: $n, orderBy: {field: VOTES}) { edges { node { title
        cast(first: 3) { name person { id } } directors { name } posterUrl } } } }"""

    def queries(size):
        caches_clear()
        images.image_base()  # read once per process and minute, not per request: not counted here
        with CaptureQueriesContext(connection) as captured:
            gql.data(query, {"n": size})
        return [entry["sql"][:120] for entry in captured.captured_queries]

    few, many = queries(5), queries(50)
    assert len(few) == len(many) == 4, (few, many)  # count, keys, cards, credits with their people


def test_before_any_sync_poster_urls_use_the_configured_image_base(settings, gql):
    settings.TMDB_IMAGE_BASE_URL = "https://image.tmdb.org/t/p/w500"  # the old setting named a size: it is dropped
    images._base = None
    Movie.objects.filter(tmdb_id=862).update(poster_path="/poster.jpg")
    movie = gql.data("{ movie(tmdbId: 862) { posterUrl small: posterUrl(size: W92) backdropUrl } }")["movie"]
    images._base = None
    assert movie == {
        "posterUrl": "https://image.tmdb.org/t/p/w342/poster.jpg",
        "small": "https://image.tmdb.org/t/p/w92/poster.jpg",
        "backdropUrl": None,
    }


def test_the_nightly_task_syncs_changes_and_new_releases(fake, settings):
    from catalog.tasks import tmdb_sync_nightly

    entry = settings.CELERY_BEAT_SCHEDULE["catalog-tmdb-nightly-sync"]
    assert entry["task"] == tmdb_sync_nightly.name == "catalog.tasks.tmdb_sync_nightly"
    tmdb_sync_nightly.apply().get()  # run in this process, as a worker would
    paths = {path for path, _, _ in fake.requests}
    assert {"/3/movie/changes", "/3/movie/now_playing", "/3/movie/upcoming", "/3/movie/862"} <= paths
    assert Movie.objects.filter(tmdb_id=NEW_RELEASE_ID).exists()


def test_a_person_is_a_node(fake, gql):
    sync_ids(tmdb_client(), [862])
    person_id = gql.data("{ movie(tmdbId: 862) { directors { id } } }")["movie"]["directors"][0]["id"]
    node = gql.data("query($id: ID!) { node(id: $id) { ... on Person { name tmdbId } } }", {"id": person_id})
    assert node["node"] == {"name": "John Lasseter", "tmdbId": 7879}
    missing = gql.data('{ person(id: "UGVyc29uOjk5OTk5OTk5") { name } }')  # Person:99999999
    assert missing["person"] is None
