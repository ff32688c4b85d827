"""One place knows what invalidates what: each app declares, for every model of its own, which versions key the
cached answers that show its rows (``nexus.versions.rows_shown_by``), and write paths only say which rows they
changed (``rows_changed``). This module runs every write path — services, admin actions, importers — reads from
its SQL which tables it wrote, and fails when a written model's declared versions were not bumped, or when a model
of the project was never declared at all."""

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest.mock import patch

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from catalog.models import Genre, Movie, Tag
from datasets.synthetic import SyntheticSize, synthetic_dataset_write
from nexus import versions
from tests.importers.test_import_tmdb import tmdb_row, write_tmdb
from tests.users.factories import PASSWORD, movie_create, person_create
from users import custom_lists, services
from users.custom_list_portability import CustomListImport
from users.models import CustomList, CustomListEntry, Rating, User
from users.statistics import movie_stats_refresh

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("catalog", "users", "recommender", "importers", "schema")
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+"?(\w+)"?', re.IGNORECASE)
# Writes whose rows show in no cached answer although their model's do, each with the reason.
UNCACHED_WRITES = {
    # Imported MovieLens people have no usable password: no answer of theirs is ever cached.
    ("movielens import", Rating),
    ("movielens import", User),
    # Tags come from MovieLens' tags.csv only: a Nexus account has none (its deletion's DELETE matches no tag),
    # and imported MovieLens people cannot sign in to delete theirs.
    ("account delete", Tag),
    ("account delete with lists", Tag),
    ("admin: account delete", Tag),
}


@dataclass
class Observed:
    tables: set[str] = field(default_factory=set)
    bumped: set[str] = field(default_factory=set)
    # Bumps made due within a bound (nexus.versions.version_bump_soon): rating statistics in catalog answers.
    bumped_soon: set[str] = field(default_factory=set)

    def written_models(self) -> set[type]:
        by_table = {model._meta.db_table: model for model in apps.get_models(include_auto_created=True)}
        return {by_table[table] for table in self.tables if table in by_table}


@contextmanager
def observed(django_capture_on_commit_callbacks):
    """The tables written (SQL and COPY) and the versions bumped once the writes committed."""
    seen = Observed()
    original_copy = getattr(CursorWrapper, "copy_expert", None)

    def copy_expert(self, sql, *args, **kwargs):
        seen.tables.update(_WRITE.findall(sql))
        return self.cursor.copy_expert(sql, *args, **kwargs)

    with (
        patch.object(CursorWrapper, "copy_expert", copy_expert, create=original_copy is None),
        patch("nexus.versions.version_bump_now", side_effect=seen.bumped.add),
        patch("nexus.versions.version_bump_due", side_effect=lambda key, within: seen.bumped_soon.add(key)),
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        yield seen
    seen.tables.update(table for query in queries for table in _WRITE.findall(query["sql"]))


def test_every_model_of_the_project_is_declared():
    declared = versions.row_versions()
    undeclared = [
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in PROJECT_APPS and model not in declared
    ]
    assert not undeclared, f"say which cached answers show these (nexus.versions.rows_shown_by): {undeclared}"


@pytest.fixture
def ada():
    return person_create("ada", password=PASSWORD)


@pytest.fixture
def movie():
    return movie_create()


def _synthetic_import(tmp_path):
    synthetic_dataset_write(size=SyntheticSize(users=20, movies=40, ratings=400), out_dir=tmp_path, seed=3)
    call_command("import_movielens", str(tmp_path), "--no-train", verbosity=0)


def _tmdb_import(tmp_path, movie):
    Movie.objects.filter(pk=movie.pk).update(tmdb_id=99_000_777)
    call_command("import_tmdb", str(write_tmdb(tmp_path / "tmdb.csv", tmdb_row(99_000_777))), verbosity=0)


def _tmdb_sync(movie):
    """sync_tmdb against the fake TMDb (tests/catalog/fake_tmdb.py): the movie, its keywords, people and credits."""
    from catalog.tmdb.client import tmdb_client
    from catalog.tmdb.sync import sync_ids
    from tests.catalog.fake_tmdb import fake_tmdb_running

    Movie.objects.filter(pk=movie.pk).update(tmdb_id=862)
    with fake_tmdb_running() as (_, base_url), override_settings(TMDB_API_BASE_URL=base_url, TMDB_API_KEY="key"):
        assert sync_ids(tmdb_client(), [862]).changed == 1


def _admin_change_movie(admin_client, movie):
    page = admin_client.get(f"/admin/catalog/movie/{movie.pk}/change/")
    form = {key: value for key, value in page.context["adminform"].form.initial.items() if value is not None}
    form.update(title="Renamed by staff", genres=[], keywords=[])
    assert admin_client.post(f"/admin/catalog/movie/{movie.pk}/change/", form).status_code == 302


WRITE_PATHS = {
    # Services of the library and accounts.
    "register": lambda c: person_create("bob"),
    "profile update": lambda c: services.user_profile_update(user=c.ada, display_name="Ada L."),
    "password change": lambda c: services.user_password_change(
        user=c.ada, old_password=PASSWORD, new_password="a brand new passphrase 7"
    ),
    "account delete": lambda c: services.user_account_delete(user=c.ada, password=PASSWORD),
    "rating upsert": lambda c: services.rating_upsert(user=c.ada, movie=c.movie, score=4),
    "rating delete": lambda c: (
        services.rating_upsert(user=c.ada, movie=c.movie, score=4),
        services.rating_delete(user=c.ada, movie=c.movie),
    ),
    "favorite add": lambda c: services.favorite_add(user=c.ada, movie=c.movie),
    "favorite remove": lambda c: (
        services.favorite_add(user=c.ada, movie=c.movie),
        services.favorite_remove(user=c.ada, movie=c.movie),
    ),
    "watchlist add": lambda c: services.watchlist_add(user=c.ada, movie=c.movie),
    "watchlist remove": lambda c: (
        services.watchlist_add(user=c.ada, movie=c.movie),
        services.watchlist_remove(user=c.ada, movie=c.movie),
    ),
    "movie hide": lambda c: services.movie_hide(user=c.ada, movie=c.movie),
    "watch event": lambda c: services.watch_event_create(user=c.ada, movie=c.movie),
    "login session": lambda c: services.refresh_token_rotate(token=services.refresh_token_create(user=c.ada).token),
    "statistics refresh": lambda c: movie_stats_refresh(movie_ids=[c.movie.pk]),
    # Custom lists.
    "list create": lambda c: custom_lists.custom_list_create(user=c.ada, name="Mine"),
    "list update": lambda c: custom_lists.custom_list_update(user=c.ada, list_id=_list(c).pk, public=True),
    "list delete": lambda c: custom_lists.custom_list_delete(user=c.ada, list_id=_list(c).pk),
    "list add": lambda c: custom_lists.custom_list_add(user=c.ada, list_id=_list(c).pk, movie=c.movie),
    "list move": lambda c: custom_lists.custom_list_move(
        user=c.ada, list_id=_list(c, with_movies=2).pk, movie=c.movie, position=2
    ),
    "list remove": lambda c: custom_lists.custom_list_remove(
        user=c.ada, list_id=_list(c, with_movies=2).pk, movie=c.movie
    ),
    "list import": lambda c: _list_import(c, "Imported", [c.movie]),
    "list import into an existing list": lambda c: _list_import(
        c, "Ada's", [entry.movie for entry in CustomListEntry.objects.select_related("movie").order_by("-position")]
    ),
    "account delete with lists": lambda c: (
        _list(c, with_movies=1),
        services.user_account_delete(user=c.ada, password=PASSWORD),
    ),
    # Staff in the admin.
    "admin: movie change": lambda c: _admin_change_movie(c.admin_client, c.movie),
    "admin: genre delete": lambda c: c.admin_client.post(
        f"/admin/catalog/genre/{Genre.objects.create(name='Test genre', slug='test-genre').pk}/delete/",
        {"post": "yes"},
    ),
    "admin: account delete": lambda c: c.admin_client.post(f"/admin/users/user/{c.ada.pk}/delete/", {"post": "yes"}),
    # Importers.
    "movielens import": lambda c: _synthetic_import(c.tmp_path),
    "tmdb import": lambda c: _tmdb_import(c.tmp_path, c.movie),
    "tmdb sync": lambda c: _tmdb_sync(c.movie),
}


def _list(c, *, with_movies: int = 0) -> CustomList:
    """A list of Ada's (its own writes unobserved: made before the observation starts), holding ``c.movie`` first
    and other movies after it."""
    custom_list = CustomList.objects.filter(user=c.ada).first()
    if custom_list is None:
        custom_list = CustomList.objects.create(user=c.ada, slug="ada-list-abcdef", name="Ada's")
        movies = [c.movie, *Movie.objects.exclude(pk=c.movie.pk)[: max(with_movies - 1, 0)]][:with_movies]
        for position, movie in enumerate(movies):
            CustomListEntry.objects.create(custom_list=custom_list, movie=movie, position=position)
    return custom_list


def _list_import(c, name: str, movies: list) -> None:
    """A library import's lists (users.custom_list_portability): a list matched by name or created, its movies
    added, noted and put in the file's order."""
    writer = CustomListImport(c.ada)
    writer.custom_list("0", name=name, description="Imported.", public=True, at=c.now)
    for movie in movies:
        writer.entry("0", movie, note="A note.", at=c.now)


LIST_PATHS = {"list update", "list delete", "list add", "list move", "list remove", "account delete with lists"}
LIST_PATHS |= {"list import into an existing list"}
TWO_MOVIE_PATHS = {"list move", "list remove", "list import into an existing list"}


@dataclass
class Context:
    ada: User
    movie: Movie
    admin_client: object
    tmp_path: object
    now: object


@pytest.mark.parametrize("name", list(WRITE_PATHS))
def test_every_write_path_bumps_the_versions_of_what_it_wrote(
    name, ada, movie, admin_client, tmp_path, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    context = Context(ada=ada, movie=movie, admin_client=admin_client, tmp_path=tmp_path, now=timezone.now())
    if name == "statistics refresh":  # a rating the statistics do not count yet
        Rating.objects.create(user=ada, movie=movie, score=3, created_at=context.now, updated_at=context.now)
    if name in LIST_PATHS:  # the list exists before: its creation is a write path of its own
        _list(context, with_movies=2 if name in TWO_MOVIE_PATHS else 1 if "account" in name else 0)
    with observed(django_capture_on_commit_callbacks) as seen:
        WRITE_PATHS[name](context)
    written = seen.written_models()
    assert written, f"{name} wrote nothing: the path is not exercised"
    declared = versions.row_versions()
    if seen.bumped & versions.keys_of_every_answer():
        return  # a version that keys every cached answer was bumped: whatever it wrote, nothing stale is served
    missing = []
    for model in written:
        keys_for = declared.get(model)
        if keys_for is None or (name, model) in UNCACHED_WRITES:
            continue  # no cached answer shows its rows (the declaration test checks every model is declared)
        families = {_family(key) for key in keys_for([_row_like()])}
        if not families & {_family(key) for key in seen.bumped | seen.bumped_soon}:
            missing.append(f"{model._meta.label} (expected a bump of {sorted(families)})")
    assert not missing, f"{name} wrote {missing} but bumped only {sorted(seen.bumped)}"


def _row_like():
    """A stand-in row for asking a declaration which versions a row keys on (ids only matter as a family)."""
    return type("Row", (), {"pk": 1, "user_id": 1, "custom_list_id": 1, "slug": "a-list"})()


def _family(key: str) -> str:
    """A version key without the ids in it: user:12:version and user:7:version are one family."""
    return re.sub(r"\d+", "#", key)
