"""TMDb's movie details (``GET /movie/{id}?append_to_response=credits,keywords,videos,release_dates``) read into
what the catalog keeps. Pure functions of the JSON: no HTTP, no database."""

from dataclasses import dataclass
from datetime import date

from catalog.tmdb.client import TmdbError

# Top-billed cast kept per movie.
CAST_LIMIT = 20
# TMDb's genre names that MovieLens spells otherwise; names MovieLens lacks ("TV Movie", "History") are dropped.
GENRE_NAMES = {"Science Fiction": "Sci-Fi", "Family": "Children", "Music": "Musical"}
# Release types in the order their certification is preferred: theatrical, limited, premiere, then the rest.
RELEASE_TYPE_PREFERENCE = (3, 2, 1, 4, 5, 6)


@dataclass(frozen=True, slots=True)
class PersonCredit:
    tmdb_id: int
    name: str
    profile_path: str
    character: str = ""


@dataclass(frozen=True, slots=True)
class MovieDetails:
    tmdb_id: int
    imdb_id: str
    title: str
    overview: str
    tagline: str
    runtime: int | None
    release_date: date | None
    original_language: str
    poster_path: str
    backdrop_path: str
    tmdb_popularity: float | None
    tmdb_vote_count: int | None
    tmdb_vote_average: float | None
    trailer_key: str
    certification: str
    genres: tuple[str, ...]
    keywords: tuple[str, ...]
    cast: tuple[PersonCredit, ...]
    directors: tuple[PersonCredit, ...]

    # The Movie columns these details fill on a movie already in the catalog.
    MOVIE_FIELDS = (
        "overview",
        "tagline",
        "runtime",
        "release_date",
        "original_language",
        "poster_path",
        "backdrop_path",
        "tmdb_popularity",
        "tmdb_vote_count",
        "tmdb_vote_average",
        "trailer_key",
        "certification",
    )

    def movie_fields(self) -> dict:
        values = {name: getattr(self, name) for name in self.MOVIE_FIELDS}
        if not values["release_date"]:
            del values["release_date"]  # TMDb not knowing a date is no reason to forget MovieLens' one
        return values


def movie_details(body: dict, *, country: str) -> MovieDetails:
    """The details of one movie; TmdbError when the JSON is not shaped as TMDb documents it."""
    try:
        credits = body.get("credits") or {}
        return MovieDetails(
            tmdb_id=_positive_int(body["id"]),
            imdb_id=(body.get("imdb_id") or "")[:16],
            title=str(body.get("title") or body.get("original_title") or "").strip()[:500],
            overview=str(body.get("overview") or "").strip(),
            tagline=str(body.get("tagline") or "").strip()[:500],
            runtime=int(body["runtime"]) if body.get("runtime") else None,
            release_date=date.fromisoformat(body["release_date"]) if body.get("release_date") else None,
            original_language=str(body.get("original_language") or "")[:16],
            poster_path=str(body.get("poster_path") or "")[:255],
            backdrop_path=str(body.get("backdrop_path") or "")[:255],
            tmdb_popularity=_float(body.get("popularity")),
            tmdb_vote_count=int(body["vote_count"]) if body.get("vote_count") is not None else None,
            tmdb_vote_average=_float(body.get("vote_average")),
            trailer_key=_trailer_key((body.get("videos") or {}).get("results") or []),
            certification=_certification((body.get("release_dates") or {}).get("results") or [], country),
            genres=tuple(GENRE_NAMES.get(genre["name"], genre["name"]) for genre in body.get("genres") or []),
            keywords=_names((body.get("keywords") or {}).get("keywords") or []),
            cast=_cast(credits.get("cast") or []),
            directors=_directors(credits.get("crew") or []),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise TmdbError(f"movie {body.get('id')!r}: not shaped as TMDb's movie details ({error!r})") from error


def new_release_ids(page: dict) -> tuple[list[int], int]:
    """The movie ids of a page of /movie/now_playing or /movie/upcoming, and how many pages there are."""
    return _page_ids(page)


def changed_ids(page: dict) -> tuple[list[int], int]:
    """The movie ids of a page of /movie/changes (adult entries skipped), and how many pages there are."""
    return _page_ids(page)


def _page_ids(page: dict) -> tuple[list[int], int]:
    try:
        ids = [_positive_int(item["id"]) for item in page["results"] if not item.get("adult")]
        return ids, int(page.get("total_pages") or 1)
    except (KeyError, TypeError, ValueError) as error:
        raise TmdbError(f"a page not shaped as TMDb documents it ({error!r})") from error


def _positive_int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"id {value!r} is not a positive integer")
    return value


def _float(value) -> float | None:
    return float(value) if value is not None else None


def _names(items: list[dict]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in (str(item["name"]).strip()[:255] for item in items) if name))


def _person(item: dict, character: str = "") -> PersonCredit:
    return PersonCredit(
        tmdb_id=_positive_int(item["id"]),
        name=str(item.get("name") or "")[:255],
        profile_path=str(item.get("profile_path") or "")[:255],
        character=character[:500],
    )


def _cast(items: list[dict]) -> tuple[PersonCredit, ...]:
    billed = sorted(items, key=lambda item: item.get("order", 0))
    seen, cast = set(), []
    for item in billed:
        if item["id"] not in seen:
            seen.add(item["id"])
            cast.append(_person(item, str(item.get("character") or "")))
        if len(cast) == CAST_LIMIT:
            break
    return tuple(cast)


def _directors(items: list[dict]) -> tuple[PersonCredit, ...]:
    found = {item["id"]: _person(item) for item in items if item.get("job") == "Director"}
    return tuple(found.values())


def _trailer_key(videos: list[dict]) -> str:
    """The official YouTube trailer (else any YouTube trailer, else a teaser); the earliest published first."""
    youtube = [video for video in videos if video.get("site") == "YouTube" and video.get("key")]

    def rank(video):
        return (
            video.get("type") != "Trailer",
            video.get("type") not in ("Trailer", "Teaser"),
            not video.get("official", False),
            video.get("published_at") or "",
        )

    candidates = [video for video in youtube if video.get("type") in ("Trailer", "Teaser")]
    return str(min(candidates, key=rank)["key"])[:64] if candidates else ""


def _certification(results: list[dict], country: str) -> str:
    for result in results:
        if result.get("iso_3166_1") != country:
            continue
        dated = [entry for entry in result.get("release_dates") or [] if (entry.get("certification") or "").strip()]
        dated.sort(key=lambda entry: _type_rank(entry.get("type")))
        return dated[0]["certification"].strip()[:16] if dated else ""
    return ""


def _type_rank(release_type) -> int:
    return RELEASE_TYPE_PREFERENCE.index(release_type) if release_type in RELEASE_TYPE_PREFERENCE else 99
