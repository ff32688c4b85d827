"""Catalog read operations: every query the API runs for movies and genres starts here."""

from collections.abc import Iterable
from enum import Enum

from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramSimilarity,
    TrigramWordSimilarity,
)
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Count, F, FloatField, Func, Q, QuerySet, Value, When
from django.db.models.functions import Ln

from catalog import trigram
from catalog.cards import movie_cards
from catalog.filters import MovieFilter, genre_id
from catalog.models import Genre, Movie
from catalog.terms import keyword_or_tag_named, movie_ids_named
from nexus.keyset import Keyset
from nexus.text import plain_text

MAX_SEARCH_LENGTH = 200


class MovieOrderField(Enum):
    POPULARITY = "popularity"
    RATING = "rating_mean"
    VOTES = "rating_count"
    RELEASE_DATE = "release_date"
    TITLE = "title"
    YEAR = "year"


def movie_to_rate(pk: int) -> Movie | None:
    """The movie, read from the database, for a rating that changes its statistics: the write drops its card,
    so reading it through the card cache would only refill a card about to go."""
    return Movie.objects.filter(pk=pk).first()


def movie_get(
    *,
    pk: int | None = None,
    movielens_id: int | None = None,
    tmdb_id: int | None = None,
    imdb_id: str | None = None,
) -> Movie | None:
    """The movie with exactly one of the given identifiers, or None."""
    given = {
        key: value
        for key, value in {
            "pk": pk,
            "movielens_id": movielens_id,
            "tmdb_id": tmdb_id,
            "imdb_id": imdb_id,
        }.items()
        if value is not None
    }
    if len(given) != 1:
        raise ValidationError("Give exactly one of id, movielensId, tmdbId or imdbId.", code="invalid")
    if pk is not None:  # the common case, from the movie's card: no query on a warm cache
        card = movie_cards([pk]).get(pk)
        return card.movie if card is not None else None
    if imdb_id is not None:
        given = {"imdb_id": normalize_imdb_id(imdb_id)}
    # TMDb occasionally links two MovieLens entries to one id: the more popular one wins.
    return Movie.objects.filter(**given).order_by("-popularity", "id").first()


def normalize_imdb_id(value: str) -> str:
    digits = value.strip().lower().removeprefix("tt")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
        raise ValidationError({"imdb_id": ValidationError(f"{value!r} is not an IMDb id.", code="invalid")})
    return f"tt{int(digits):07d}"


def movie_list(
    *,
    filters: dict | None = None,
    search: str | None = None,
    order: MovieOrderField | None = None,
    descending: bool = True,
) -> QuerySet[Movie]:
    """Filtered, searched and ordered movies. With a search and no explicit order, the best matches come first.
    Their genres are not fetched: the API reads them, for a whole page at once, from the movies' cards."""
    filterset = MovieFilter(data=filters or {}, queryset=Movie.objects.all())
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    queryset = filterset.qs
    if search is not None:
        search = clean_search(search)
        if search:
            queryset = _search(queryset, search)
    return queryset.order_by(*_movie_list_ordering(search=search, order=order, descending=descending))


def movie_list_keyset(
    *, search: str | None = None, order: MovieOrderField | None = None, descending: bool = True
) -> Keyset:
    """The sort key of ``movie_list`` with these arguments (its rows' ``values_list(*keyset.names)``), for keyset
    pagination: ``keyset.after(key)`` filters its queryset to the movies after a key, exactly as it orders them.
    Reads nothing from the database."""
    search = clean_search(search) if search is not None else None
    ordering = _movie_list_ordering(search=search, order=order, descending=descending)
    return Keyset(Movie, ordering, fields={"relevance": FloatField()})


def _movie_list_ordering(*, search: str | None, order: MovieOrderField | None, descending: bool) -> list:
    """Best matches first for a search without an order; else the order's column (NULLS LAST either way); the id
    breaks ties, so that every movie has its own place."""
    if search and order is None:
        return ["-relevance", "-popularity", "id"]
    column = F((order or MovieOrderField.POPULARITY).value)
    return [column.desc(nulls_last=True) if descending else column.asc(nulls_last=True), "id"]


def clean_search(text: str) -> str:
    text = " ".join(plain_text(text, field="search").split())
    if len(text) > MAX_SEARCH_LENGTH:
        raise ValidationError(
            {"search": ValidationError(f"Search text is limited to {MAX_SEARCH_LENGTH} characters.", code="invalid")}
        )
    return text


def _search(queryset: QuerySet[Movie], text: str) -> QuerySet[Movie]:
    """Titles within a typo or two of the text, movies whose title and plot hold all its words, or movies with a
    keyword or tag named as the text; title matches first, then by how well the title matches, the text match,
    the keyword or tag match, and a small prior for well-known movies. The one place
    that knows the backend: PostgreSQL has pg_trgm and full-text search, SQLite pg_trgm's rules in Python."""
    if connection.vendor == "postgresql":
        return _search_postgres(queryset, text)
    return _search_sqlite(queryset, text)


def _well_known():
    # A small prior for well-known movies breaks near-ties between remakes and sequels.
    return Ln(F("rating_count") + Value(1.0)) / Value(20.0)


def _search_postgres(queryset: QuerySet[Movie], text: str) -> QuerySet[Movie]:
    """pg_trgm word similarity or an English full-text match in title and overview, both served by GIN indexes
    (0003); the word-similarity threshold is a connection setting (nexus/settings.py)."""
    document = SearchVector("title", "overview", config="english")
    query = SearchQuery(text, config="english", search_type="websearch")
    title_match = Q(title__trigram_word_similar=text)
    term_match = keyword_or_tag_named(text)
    # The ids that match, each way on its own (the title's trigrams, the full-text GIN index, the keyword and tag
    # name indexes), in one set: an OR of them in one WHERE makes PostgreSQL read every movie and build its
    # full-text document, seconds on a busy machine.
    by_keyword, by_tag = movie_ids_named(text)
    by_title = Movie.objects.filter(title_match).order_by().values("pk")
    by_document = Movie.objects.annotate(document=document).filter(document=query).order_by().values("pk")
    matched = by_title.union(by_document, by_keyword, by_tag)
    return (
        queryset.filter(pk__in=matched)
        .annotate(document=document)
        .annotate(
            relevance=_title_first(title_match)
            + TrigramWordSimilarity(text, "title")
            + TrigramSimilarity("title", text)
            + SearchRank(document, query)
            + _term_rank(term_match)
            + _well_known()
        )
    )


# Every title match ranks above every movie found only by its plot, keywords or tags.
TITLE_MATCH_RANK = 2.0
# A keyword or tag named as the search text counts as much as a plot that holds its words a few times.
TERM_MATCH_RANK = 0.1


def _title_first(title_match: Q):
    return Case(When(title_match, then=Value(TITLE_MATCH_RANK)), default=Value(0.0), output_field=FloatField())


def _term_rank(term_match: Q):
    return Case(When(term_match, then=Value(TERM_MATCH_RANK)), default=Value(0.0), output_field=FloatField())


# ts_rank's score for a document that holds the words once: SQLite's text match counts as much.
SQLITE_TEXT_MATCH_RANK = 0.06


def _search_sqlite(queryset: QuerySet[Movie], text: str) -> QuerySet[Movie]:
    """The same rules without an index: pg_trgm's functions in Python (catalog/trigram.py, registered on each
    connection by sqlite_functions_register) over every title, and every word as a substring of title or plot."""
    word_similarity = Func(Value(text), F("title"), function="nexus_word_similarity", output_field=FloatField())
    similarity = Func(Value(text), F("title"), function="nexus_similarity", output_field=FloatField())
    all_words = Q()
    for word in text.split():
        all_words &= Q(title__icontains=word) | Q(overview__icontains=word)
    title_match = Q(title_match__gte=trigram.WORD_SIMILARITY_THRESHOLD)
    term_match = keyword_or_tag_named(text)
    return (
        queryset.alias(title_match=word_similarity)
        .filter(title_match | all_words | term_match)
        .annotate(
            relevance=_title_first(title_match)
            + F("title_match")
            + similarity
            + Case(When(all_words, then=Value(SQLITE_TEXT_MATCH_RANK)), default=Value(0.0))
            + _term_rank(term_match)
            + _well_known()
        )
    )


def sqlite_functions_register(sender, connection, **kwargs) -> None:
    """connection_created receiver: the SQL functions _search_sqlite calls."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("nexus_word_similarity", 2, trigram.word_similarity, deterministic=True)
        connection.connection.create_function("nexus_similarity", 2, trigram.similarity, deterministic=True)


def genre_list() -> QuerySet[Genre]:
    return Genre.objects.annotate(movie_count=Count("movies")).order_by("name")


def genre_movie_counts(*, genre_ids: Iterable[int]) -> dict[int, int]:
    """How many movies each of these genres has, by genre id (one query)."""
    return dict(Genre.objects.filter(pk__in=list(genre_ids)).annotate(n=Count("movies")).values_list("pk", "n"))


def popular_movies(*, genre: str | None = None) -> QuerySet[Movie]:
    """Movies by popularity (how many people rated them, weighted by how well they liked them)."""
    queryset = Movie.objects.all()
    if genre:
        queryset = queryset.filter(genres=genre_id(genre))
    return queryset.order_by("-popularity", "id")
