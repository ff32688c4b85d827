"""importLibrary and importJob end to end: files as Letterboxd, IMDb and Trakt export them, uploaded over HTTP as
GraphQL multipart requests (Django's test client sends a real multipart body through the URLconf, middleware and
view), imported by the Celery task (run inline, as on the embedded default) once the upload commits, on the real
ml-latest-small catalog. Then libraryExport, and its round trip into a fresh account."""

import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from graphql_jwt.shortcuts import get_token
from graphql_relay import from_global_id, to_global_id

from catalog.models import Movie
from recommender import tasks as recommender_tasks
from tests.recommender.support import eager_tasks  # noqa: F401 - a fixture, requested by name
from tests.users.factories import person_create
from users import custom_lists, services
from users.models import CustomList, Favorite, HiddenMovie, ImportJob, Rating, WatchEvent, WatchlistItem
from users.portability import library_snapshot

pytestmark = pytest.mark.usefixtures("movielens", "eager_tasks")

IMPORT = """mutation($file: Upload!, $source: LibrarySource!) {
  importLibrary(file: $file, source: $source) { job { id status } errors { field message code } }
}"""
JOB = """query($id: ID!) { importJob(id: $id) {
  id source filename status
  counts { read matched created updated unchanged unmatched }
  unmatchedRows { line file kind title year imdbId tmdbId reason }
  failure { line reason }
} }"""
NODE = "query($id: ID!) { node(id: $id) { ... on ImportJob { status } } }"
EXPORT = """query($format: LibraryExportFormat!) {
  me { libraryExport(format: $format) { filename contentType content } }
}"""

# Real movies of ml-latest-small, by MovieLens id.
MATRIX, PULP_FICTION, FIGHT_CLUB, TOY_STORY, GODFATHER, HEAT, JUMANJI = 2571, 296, 2959, 1, 858, 6, 2

LETTERBOXD_RATINGS = b"""Date,Name,Year,Letterboxd URI,Rating
2020-01-05,The Matrix,1999,https://boxd.it/2bzM,4.5
2020-02-10,Pulp Fiction,1994,https://boxd.it/2a9A,5
2020-03-15,Heat,1996,https://boxd.it/2aYk,3
2020-04-01,A Film That Was Never Made,2019,https://boxd.it/zzzz,2.5
"""
LETTERBOXD_WATCHLIST = b"""Date,Name,Year,Letterboxd URI
2021-05-01,Fight Club,1999,https://boxd.it/2a1m
2021-05-02,Nobody's Film At All,2018,https://boxd.it/yyyy
"""
IMDB_HEADER = (
    b"Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,Runtime (mins),Year,Genres,"
    b"Num Votes,Release Date,Directors\n"
)
IMDB_RATINGS = IMDB_HEADER + (
    b"tt0114709,9,2019-06-01,Toy Story,Toy Story,https://www.imdb.com/title/tt0114709/,Movie,8.3,81,1995,"
    b'"Animation, Adventure",1000000,1995-11-22,John Lasseter\n'
    b"tt0068646,10,2019-06-02,The Godfather,The Godfather,https://www.imdb.com/title/tt0068646/,Movie,9.2,175,1972,"
    b'"Crime, Drama",2000000,1972-03-14,Francis Ford Coppola\n'
    b"tt9999999,3,2019-06-03,Unknown Short,Unknown Short,https://www.imdb.com/title/tt9999999/,Short,5.0,10,2020,"
    b"Short,12,2020-01-01,Nobody\n"
)
TRAKT_RATINGS = json.dumps(
    [
        {
            "rated_at": "2022-01-01T20:00:00.000Z",
            "rating": 7,
            "type": "movie",
            "movie": {"title": "Jumanji", "year": 1995, "ids": {"trakt": 1, "imdb": "tt0113497", "tmdb": 8844}},
        },
        {
            "rated_at": "2022-01-02T20:00:00.000Z",
            "rating": 4,
            "type": "movie",
            "movie": {"title": "Fight Club", "year": 1999, "ids": {"trakt": 2, "imdb": None, "tmdb": 550}},
        },
        {
            "rated_at": "2022-01-03T20:00:00.000Z",
            "rating": 8,
            "type": "movie",
            "movie": {"title": "Not In Any Catalog", "year": 2024, "ids": {"trakt": 3, "imdb": None, "tmdb": None}},
        },
    ]
).encode()


def upload(client, content: bytes, *, name: str, source: str, token: str | None, **headers):
    """A GraphQL multipart request, as Apollo's upload link sends it."""
    data = {
        "operations": json.dumps({"query": IMPORT, "variables": {"file": None, "source": source}}),
        "map": json.dumps({"0": ["variables.file"]}),
        "0": SimpleUploadedFile(name, content, content_type="text/csv"),
    }
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post("/graphql", data=data, **headers)


@pytest.fixture
def person(db):
    return person_create("importer")


@pytest.fixture
def token(person):
    return get_token(person)


@pytest.fixture
def run_import(client, gql, token, django_capture_on_commit_callbacks):
    """Upload a file; once the upload commits the import runs (eagerly); the job as importJob shows it."""

    def run(content: bytes, *, name: str, source: str, as_token: str | None = None) -> dict:
        as_token = as_token or token
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client, content, name=name, source=source, token=as_token)
        assert response.status_code == 200, response.content
        assert "errors" not in response.json(), response.json()
        payload = response.json()["data"]["importLibrary"]
        assert payload["errors"] == [] and payload["job"]["status"] == "PENDING", payload
        return gql.data(JOB, {"id": payload["job"]["id"]}, token=as_token)["importJob"]

    return run


def scores(user) -> dict[int, Decimal]:
    return dict(Rating.objects.filter(user=user).values_list("movie__movielens_id", "score"))


def watchlist(user) -> set[int]:
    return set(WatchlistItem.objects.filter(user=user).values_list("movie__movielens_id", flat=True))


def test_letterboxd_ratings_and_watchlist_land_as_half_stars_with_the_unmatched_row_reported(run_import, person):
    ratings = run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")
    listed = run_import(LETTERBOXD_WATCHLIST, name="watchlist.csv", source="LETTERBOXD")

    assert ratings["status"] == "DONE" and ratings["failure"] is None
    assert ratings["counts"] == {"read": 4, "matched": 3, "created": 3, "updated": 0, "unchanged": 0, "unmatched": 1}
    assert scores(person) == {MATRIX: Decimal("4.5"), PULP_FICTION: Decimal("5.0"), HEAT: Decimal("3.0")}
    [missing] = ratings["unmatchedRows"]
    assert missing["line"] == 5 and missing["title"] == "A Film That Was Never Made" and missing["year"] == 2019
    assert "No movie in the catalog" in missing["reason"]
    # The file's dates are kept.
    matrix = Rating.objects.get(user=person, movie__movielens_id=MATRIX)
    assert matrix.created_at.date().isoformat() == "2020-01-05"

    assert listed["counts"]["created"] == 1 and listed["counts"]["unmatched"] == 1
    assert watchlist(person) == {FIGHT_CLUB}
    assert listed["unmatchedRows"][0]["kind"] == "watchlist"


def test_imdb_ten_point_ratings_become_half_stars(run_import, person):
    job = run_import(IMDB_RATINGS, name="ratings.csv", source="IMDB")

    assert job["counts"] == {"read": 3, "matched": 2, "created": 2, "updated": 0, "unchanged": 0, "unmatched": 1}
    assert scores(person) == {TOY_STORY: Decimal("4.5"), GODFATHER: Decimal("5.0")}
    assert job["unmatchedRows"][0]["imdbId"] == "tt9999999" and job["unmatchedRows"][0]["line"] == 4


TRAKT_WATCHLIST = json.dumps(
    [
        {
            "rank": 1,
            "id": 101,
            "listed_at": "2022-02-01T10:00:00.000Z",
            "notes": None,
            "type": "movie",
            "movie": {"title": "Heat", "year": 1995, "ids": {"trakt": 4, "slug": "heat-1995", "imdb": "tt0113277"}},
        },
        {
            "rank": 2,
            "id": 102,
            "listed_at": "2022-02-02T10:00:00.000Z",
            "notes": None,
            "type": "movie",
            "movie": {"title": "Unreleased Thing", "year": 2030, "ids": {"trakt": 5, "imdb": "tt99999990"}},
        },
    ]
).encode()


def test_trakt_json_matches_by_imdb_then_tmdb_id(run_import, person):
    job = run_import(TRAKT_RATINGS, name="ratings-movies.json", source="TRAKT")
    listed = run_import(TRAKT_WATCHLIST, name="watchlist-movies.json", source="TRAKT")

    assert job["counts"]["created"] == 2 and job["counts"]["unmatched"] == 1
    assert scores(person) == {JUMANJI: Decimal("3.5"), FIGHT_CLUB: Decimal("2.0")}
    assert job["unmatchedRows"][0]["title"] == "Not In Any Catalog"
    assert listed["counts"]["created"] == 1 and listed["unmatchedRows"][0]["imdbId"] == "tt99999990"
    assert watchlist(person) == {HEAT}
    added = WatchlistItem.objects.get(user=person).created_at
    assert added.isoformat() == "2022-02-01T10:00:00+00:00"


def test_importing_the_same_file_again_changes_nothing(run_import, person):
    run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")
    before = list(Rating.objects.filter(user=person).order_by("pk").values())

    again = run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")

    assert again["counts"] == {"read": 4, "matched": 3, "created": 0, "updated": 0, "unchanged": 3, "unmatched": 1}
    assert list(Rating.objects.filter(user=person).order_by("pk").values()) == before


def test_a_changed_score_is_updated(run_import, person):
    run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")
    changed = LETTERBOXD_RATINGS.replace(b"The Matrix,1999,https://boxd.it/2bzM,4.5", b"The Matrix,1999,x,2")

    job = run_import(changed, name="ratings.csv", source="LETTERBOXD")

    assert job["counts"]["updated"] == 1 and job["counts"]["unchanged"] == 2
    assert scores(person)[MATRIX] == Decimal("2.0")


def test_the_recommendations_are_refreshed_once_at_the_end(run_import, person, monkeypatch):
    queued = []
    monkeypatch.setattr(
        recommender_tasks.refresh_user, "apply_async", lambda args=(), kwargs=None, **options: queued.append(kwargs)
    )
    run_import(IMDB_RATINGS + b"tt0114709,9,2019-06-01,Toy Story,,,Movie,,,1995,,,,\n", name="r.csv", source="IMDB")

    assert queued == [{"user_id": person.pk}]


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (LETTERBOXD_RATINGS.replace(b",5\n", b",five\n"), 3, "not a number"),
        (LETTERBOXD_RATINGS.replace(b",3\n", b",3.3\n"), 4, "half steps"),
        (LETTERBOXD_RATINGS + b"2020-13-45,Alien,1979,x,4\n", 6, "ISO 8601"),
        (b"Title,Stars\nAlien,4\n", 1, "Name, Year"),
        (LETTERBOXD_RATINGS.replace(b"Pulp Fiction,1994", b"Pulp Fiction,1994,extra"), 3, "values for 5 columns"),
    ],
)
def test_a_malformed_file_fails_with_the_line_and_writes_nothing(run_import, person, content, line, words):
    job = run_import(content, name="ratings.csv", source="LETTERBOXD")

    assert job["status"] == "FAILED"
    assert job["failure"]["line"] == line and words in job["failure"]["reason"], job["failure"]
    assert job["counts"]["read"] == 0 and job["unmatchedRows"] == []
    assert not Rating.objects.filter(user=person).exists()  # the rows before the bad one were not kept either


def test_a_viewing_the_library_refuses_fails_the_file(run_import, person):
    trakt = json.dumps([{"plays": 1, "last_watched_at": "2999-01-01T00:00:00Z", "movie": {"ids": {"tmdb": 862}}}])

    job = run_import(trakt.encode(), name="watched-movies.json", source="TRAKT")

    assert job["status"] == "FAILED" and job["failure"]["line"] == 1 and "future" in job["failure"]["reason"]
    assert not WatchEvent.objects.filter(user=person).exists()


def test_a_job_is_its_owners_only(run_import, gql, token):
    job = run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")
    other = get_token(person_create("someone-else"))

    assert gql.data(JOB, {"id": job["id"]}, token=other)["importJob"] is None
    assert gql.data(JOB, {"id": job["id"]})["importJob"] is None  # anonymous
    assert gql.data(JOB, {"id": to_global_id("ImportJob", 10**9)}, token=other)["importJob"] is None
    assert gql.data(NODE, {"id": job["id"]}, token=other)["node"] is None
    assert gql.data(NODE, {"id": job["id"]})["node"] is None
    assert gql.data(NODE, {"id": job["id"]}, token=token)["node"] == {"status": "DONE"}
    malformed = gql.execute(JOB, {"id": to_global_id("Movie", 1)}, token=other)
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_anonymous_upload_is_refused_and_queues_nothing(client):
    response = upload(client, LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD", token=None)

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert not ImportJob.objects.exists()


def test_export_then_import_into_a_fresh_account_reproduces_the_library(
    run_import, gql, person, token, django_capture_on_commit_callbacks
):
    run_import(LETTERBOXD_RATINGS, name="ratings.csv", source="LETTERBOXD")
    run_import(LETTERBOXD_WATCHLIST, name="watchlist.csv", source="LETTERBOXD")
    run_import(b"Date,Name,Year,Letterboxd URI\n2019-12-24,Toy Story,1995,x\n", name="watched.csv", source="LETTERBOXD")
    with django_capture_on_commit_callbacks(execute=True):  # committed, as the services' callers do
        services.favorite_add(user=person, movie=Movie.objects.get(movielens_id=GODFATHER))
        services.movie_hide(user=person, movie=Movie.objects.get(movielens_id=JUMANJI))
        services.watch_event_create(user=person, movie=Movie.objects.get(movielens_id=TOY_STORY))
        services.user_profile_update(
            user=person, display_name="Imp Orter", bio="Films.\nMore films.", favorite_genres=["Drama", "Comedy"]
        )
        lists_create(person)

    for export_format in ("JSON", "CSV"):
        exported = gql.data(EXPORT, {"format": export_format}, token=token)["me"]["libraryExport"]
        fresh = person_create(f"fresh-{export_format.lower()}")
        assert exported["filename"].startswith("nexus-library-importer-")
        job = run_import(
            exported["content"].encode(), name=exported["filename"], source="NEXUS", as_token=get_token(fresh)
        )

        assert job["status"] == "DONE" and job["counts"]["unmatched"] == 0, job
        assert library(fresh) == library(person), export_format
        assert set(CustomList.objects.filter(user=fresh).values_list("slug", flat=True)).isdisjoint(
            CustomList.objects.filter(user=person).values_list("slug", flat=True)
        )  # slugs are the service's: fresh ones
        before = library(fresh)
        again = run_import(
            exported["content"].encode(), name=exported["filename"], source="NEXUS", as_token=get_token(fresh)
        )
        assert again["counts"]["created"] == again["counts"]["updated"] == 0
        assert again["counts"]["unchanged"] == again["counts"]["matched"] == job["counts"]["matched"]
        assert library(fresh) == before, export_format


def library(user) -> dict:
    """Everything an export holds, without the account's own ids."""
    user.refresh_from_db()
    snapshot = library_snapshot(user=user)

    def entries(rows):
        return [(row.movie.movielens_id, row.at, row.score, row.changed_at) for row in rows]

    return {
        "profile": (user.display_name, user.bio, snapshot.favorite_genres),
        "ratings": sorted(entries(snapshot.ratings)),
        "favorites": sorted(entries(snapshot.favorites)),
        "watchlist": sorted(entries(snapshot.watchlist)),
        "history": sorted(entries(snapshot.history)),
        "hidden": sorted(entries(snapshot.hidden)),
        "lists": [
            (
                custom_list.name,
                custom_list.description,
                custom_list.public,
                custom_list.created_at,
                [(entry.movie.movielens_id, entry.note, entry.at) for entry in custom_list.entries],
            )
            for custom_list in snapshot.lists
        ],
        "counts": [
            model.objects.filter(user=user).count()
            for model in (Rating, Favorite, WatchlistItem, WatchEvent, HiddenMovie, CustomList)
        ],
    }


def lists_create(user) -> list[CustomList]:
    """Two lists (one public, one private) with notes, one of them reordered after its movies were added."""
    movie = {pk: Movie.objects.get(movielens_id=pk) for pk in (MATRIX, HEAT, TOY_STORY, GODFATHER)}
    public = custom_lists.custom_list_create(
        user=user, name="Heists & more", description='Crews,\n"plans", and one last job.', public=True
    )
    private = custom_lists.custom_list_create(user=user, name="Rewatch", public=False)
    for pk, note in ((HEAT, "The diner scene."), (GODFATHER, ""), (MATRIX, "Not really a heist, line 1\nline 2")):
        custom_lists.custom_list_add(user=user, list_id=public.pk, movie=movie[pk], note=note)
    custom_lists.custom_list_move(user=user, list_id=public.pk, movie=movie[MATRIX], position=1)
    custom_lists.custom_list_add(user=user, list_id=private.pk, movie=movie[TOY_STORY], note="With the kids")
    return [public, private]


def test_the_exported_lists_keep_their_order_notes_and_flags(run_import, gql, person, token):
    lists_create(person)

    content = gql.data(EXPORT, {"format": "JSON"}, token=token)["me"]["libraryExport"]["content"]

    exported = json.loads(content)["lists"]
    assert [(item["name"], item["public"]) for item in exported] == [("Heists & more", True), ("Rewatch", False)]
    assert [(item["movie"]["movielensId"], item["note"]) for item in exported[0]["movies"]] == [
        (MATRIX, "Not really a heist, line 1\nline 2"),
        (HEAT, "The diner scene."),
        (GODFATHER, ""),
    ]
    assert exported[0]["movies"][0]["movie"]["imdbId"] == "tt0133093" and exported[0]["slug"].startswith("heists")


def test_reimporting_lists_matches_them_by_name_and_puts_the_files_order_back(run_import, gql, person, token):
    public, private = lists_create(person)
    content = gql.data(EXPORT, {"format": "CSV"}, token=token)["me"]["libraryExport"]["content"].encode()
    matrix, heat = Movie.objects.get(movielens_id=MATRIX), Movie.objects.get(movielens_id=HEAT)
    custom_lists.custom_list_move(user=person, list_id=public.pk, movie=heat, position=1)
    custom_lists.custom_list_add(user=person, list_id=public.pk, movie=matrix, note="changed")
    custom_lists.custom_list_update(user=person, list_id=private.pk, public=True)

    job = run_import(content, name="export.csv", source="NEXUS")

    # The Matrix's note and place (one row updated; Heat is in its place again then), Rewatch's flag (updated).
    assert job["counts"]["updated"] == 2 and job["counts"]["created"] == 0, job
    public.refresh_from_db()
    entries = list(public.entries.order_by("position").values_list("movie__movielens_id", "note"))
    assert entries == [(MATRIX, "Not really a heist, line 1\nline 2"), (HEAT, "The diner scene."), (GODFATHER, "")]
    assert CustomList.objects.get(pk=private.pk).public is False
    assert CustomList.objects.filter(user=person).count() == 2


def test_lists_beyond_the_limit_fail_the_import_and_write_nothing(run_import, gql, person, token, settings):
    lists_create(person)
    content = gql.data(EXPORT, {"format": "JSON"}, token=token)["me"]["libraryExport"]["content"].encode()
    fresh = person_create("fresh-limited")
    custom_lists.custom_list_create(user=fresh, name="Already there")
    settings.NEXUS_LISTS_MAX_PER_USER = 2

    job = run_import(content, name="export.json", source="NEXUS", as_token=get_token(fresh))

    assert job["status"] == "FAILED" and "Rewatch" in job["failure"]["reason"], job["failure"]
    assert "most an account can have" in job["failure"]["reason"]
    assert list(CustomList.objects.filter(user=fresh).values_list("name", flat=True)) == ["Already there"]
    assert not Rating.objects.filter(user=fresh).exists()


def test_a_list_entry_matching_no_movie_is_reported_unmatched(run_import, gql, person, token):
    lists_create(person)
    document = json.loads(gql.data(EXPORT, {"format": "JSON"}, token=token)["me"]["libraryExport"]["content"])
    document["lists"][1]["movies"].append(
        {"movie": {"movielensId": None, "tmdbId": None, "imdbId": "tt99999990", "title": "Nope", "year": 2031}}
    )
    fresh = person_create("fresh-unmatched")

    job = run_import(json.dumps(document).encode(), name="e.json", source="NEXUS", as_token=get_token(fresh))

    assert job["status"] == "DONE" and job["counts"]["unmatched"] == 1
    [row] = job["unmatchedRows"]
    assert row["kind"] == "list_entry" and row["imdbId"] == "tt99999990"
    rewatch = CustomList.objects.get(user=fresh, name="Rewatch")
    assert list(rewatch.entries.values_list("movie__movielens_id", flat=True)) == [TOY_STORY]


def test_polling_the_job_sees_it_pending_then_done(client, gql, token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, IMDB_RATINGS, name="ratings.csv", source="IMDB", token=token)
        job_id = response.json()["data"]["importLibrary"]["job"]["id"]
        pending = gql.data(JOB, {"id": job_id}, token=token)["importJob"]  # the answer is cached now
    done = gql.data(JOB, {"id": job_id}, token=token)["importJob"]

    assert (pending["status"], pending["counts"]["read"]) == ("PENDING", 0)
    assert (done["status"], done["counts"]["read"]) == ("DONE", 3)
    assert bytes(ImportJob.objects.get(pk=from_global_id(job_id)[1]).content) == b""  # the file is not kept
