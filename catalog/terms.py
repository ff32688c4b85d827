"""Keywords (TMDb) and tags (MovieLens tag applications) of movies: read for many movies at once, and the
querysets that filter and search by them.

Names match case-insensitively ("Time Travel" is "time travel"); a movie's tags are counted by how many
people applied each name, spelled as most of them did.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower

from catalog.models import Keyword, Movie, Tag

MovieKeyword = Movie.keywords.through


@dataclass(frozen=True, slots=True)
class TagCount:
    name: str
    count: int


def lowered(names: Iterable[str]) -> list[str]:
    """The names, lower-cased, without repeats or blanks, in their order."""
    return list(dict.fromkeys(name.strip().lower() for name in names if name.strip()))


def movie_keywords_many(*, movie_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each movie's keywords, by name, by movie id (one query); movies without any are left out."""
    rows = (
        MovieKeyword.objects.filter(movie_id__in=list(movie_ids))
        .order_by("movie_id", "keyword__name")
        .values_list("movie_id", "keyword__name")
    )
    found: dict[int, list[str]] = defaultdict(list)
    for movie_id, name in rows:
        found[movie_id].append(name)
    return dict(found)


def movie_tags_many(*, movie_ids: Iterable[int], first: int) -> dict[int, list[TagCount]]:
    """Each movie's ``first`` tags, most applied first (then by name), by movie id (one query over the movies'
    tag applications); movies without any are left out."""
    rows = (
        Tag.objects.filter(movie_id__in=list(movie_ids))
        .annotate(key=Lower("name"))
        .values_list("movie_id", "key", "name")
        .annotate(applied=Count("id"))
        .order_by()
    )
    # (movie, lower-cased name) -> how many applied each spelling
    spellings: dict[tuple[int, str], Counter] = defaultdict(Counter)
    for movie_id, key, name, applied in rows:
        spellings[(movie_id, key)][name] += applied
    tags: dict[int, list[TagCount]] = defaultdict(list)
    for (movie_id, _), counts in spellings.items():
        # The most common spelling; ties go to the first in sort order, so that the answer is stable.
        name = min(counts, key=lambda spelling: (-counts[spelling], spelling))
        tags[movie_id].append(TagCount(name=name, count=sum(counts.values())))
    return {
        movie_id: sorted(listed, key=lambda tag: (-tag.count, tag.name.lower(), tag.name))[:first]
        for movie_id, listed in tags.items()
    }


def movies_with_all_keywords(queryset: QuerySet[Movie], names: list[str]) -> QuerySet[Movie]:
    """The movies of ``queryset`` that have every one of these keywords (none for an unknown one)."""
    keywords = MovieKeyword.objects.annotate(key=Lower("keyword__name"))
    return _with_all(queryset, keywords, names, distinct="keyword_id")


def movies_with_all_tags(queryset: QuerySet[Movie], names: list[str]) -> QuerySet[Movie]:
    """The movies of ``queryset`` that someone tagged with each of these names."""
    return _with_all(queryset, Tag.objects.annotate(key=Lower("name")), names, distinct="key")


def _with_all(queryset: QuerySet[Movie], named: QuerySet, names: list[str], *, distinct: str) -> QuerySet[Movie]:
    """The movies of ``queryset`` with a row of ``named`` (annotated with its lowered ``key``) for each name."""
    wanted = lowered(names)
    if not wanted:
        return queryset
    having_all = (
        named.filter(key__in=wanted)
        .values("movie_id")
        .annotate(matched=Count(distinct, distinct=True))
        .filter(matched=len(wanted))
        .values("movie_id")
    )
    return queryset.filter(pk__in=having_all)


def movie_ids_named(text: str) -> tuple[QuerySet, QuerySet]:
    """The ids (``movie_id`` querysets) of movies with a keyword, and with a tag, named exactly ``text``
    (case-insensitively): a search's term match. Each is served by its name index."""
    key = text.strip().lower()
    keyword_ids = Keyword.objects.annotate(key=Lower("name")).filter(key=key).values("pk")
    by_keyword = MovieKeyword.objects.filter(keyword_id__in=keyword_ids).values("movie_id")
    by_tag = Tag.objects.annotate(key=Lower("name")).filter(key=key).values("movie_id")
    return by_keyword, by_tag


def keyword_or_tag_named(text: str) -> Q:
    """Movies with a keyword or a tag named exactly ``text`` (case-insensitively)."""
    by_keyword, by_tag = movie_ids_named(text)
    return Q(pk__in=by_keyword) | Q(pk__in=by_tag)
