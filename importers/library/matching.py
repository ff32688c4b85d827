"""Which catalog movie an imported row names: by MovieLens id (Nexus' own exports), then IMDb id, then TMDb id,
then normalized title and year (±1 year, the nearest year first, then the more popular movie). Each kind of
identifier is looked up for all rows at once; titles only when some row needs them (one pass over the catalog's
titles)."""

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

from catalog.models import Movie
from importers.library.rows import Row

YEAR_TOLERANCE = 1
_NOT_WORD = re.compile(r"[\W_]+")
_AKA = re.compile(r"^a\.?k\.?a\.?\s+", re.IGNORECASE)


def title_key(title: str) -> str:
    """A title as matching compares it: no accents, no case, no punctuation, "&" as "and"."""
    text = unicodedata.normalize("NFKD", title.replace("&", " and "))
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def title_keys(title: str) -> set[str]:
    """The keys a catalog title is found under: the whole title, the title without the alternative titles
    MovieLens puts in parentheses ("The City of Lost Children (La Cité des enfants perdus)"), and each of these."""
    keys = {title_key(title)}
    rest = title.strip()
    while rest.endswith(")") and " (" in rest:
        start = rest.rindex(" (")
        keys.add(title_key(_AKA.sub("", rest[start + 2 : -1])))
        rest = rest[:start].rstrip()
        keys.add(title_key(rest))
    keys.discard("")
    return keys


class MovieMatcher:
    """Matches rows to movie ids (``match``); why a row matched nothing is ``reason``."""

    def __init__(self, rows: Iterable[Row]):
        rows = [row for row in rows if not row.not_a_movie]
        self._by_movielens = self._lookup("movielens_id", {row.movielens_id for row in rows} - {None})
        self._by_imdb = self._lookup("imdb_id", {row.imdb_id for row in rows} - {None})
        self._by_tmdb = self._lookup("tmdb_id", {row.tmdb_id for row in rows} - {None})
        self._by_title: dict[str, list[tuple[int | None, float, int]]] | None = None

    @staticmethod
    def _lookup(field: str, values: set) -> dict:
        """Movie id by identifier; TMDb occasionally links two MovieLens entries to one id: the more popular one
        wins (as catalog.selectors.movie_get)."""
        found: dict = {}
        if values:
            pairs = Movie.objects.filter(**{f"{field}__in": values}).order_by("-popularity", "id")
            for value, pk in pairs.values_list(field, "pk"):
                found.setdefault(value, pk)
        return found

    def match(self, row: Row) -> int | None:
        if row.not_a_movie:
            return None
        for value, index in (
            (row.movielens_id, self._by_movielens),
            (row.imdb_id, self._by_imdb),
            (row.tmdb_id, self._by_tmdb),
        ):
            if value is not None and value in index:
                return index[value]
        return self._title_match(row.title, row.year) if row.title else None

    def _title_match(self, title: str, year: int | None) -> int | None:
        candidates = self._titles().get(title_key(title), [])
        if year is not None:
            candidates = [c for c in candidates if c[0] is not None and abs(c[0] - year) <= YEAR_TOLERANCE]
            candidates.sort(key=lambda c: (abs(c[0] - year), -c[1], c[2]))
        else:
            candidates = sorted(candidates, key=lambda c: (-c[1], c[2]))
        return candidates[0][2] if candidates else None

    def _titles(self) -> dict[str, list[tuple[int | None, float, int]]]:
        if self._by_title is None:
            self._by_title = defaultdict(list)
            movies = Movie.objects.order_by().values_list("pk", "title", "year", "popularity")
            for pk, title, year, popularity in movies:
                for key in title_keys(title):
                    self._by_title[key].append((year, popularity, pk))
        return self._by_title

    @staticmethod
    def reason(row: Row) -> str:
        if row.not_a_movie:
            return f"Not a movie ({row.not_a_movie}): only movies are imported."
        named = [
            f"MovieLens id {row.movielens_id}" if row.movielens_id else "",
            f"IMDb id {row.imdb_id}" if row.imdb_id else "",
            f"TMDb id {row.tmdb_id}" if row.tmdb_id else "",
            f"title {row.title!r}" + (f" ({row.year}, ±{YEAR_TOLERANCE})" if row.year else "") if row.title else "",
        ]
        named = [part for part in named if part]
        if not named:
            return "The row names no movie."
        return f"No movie in the catalog has the {' or the '.join(named)}."
