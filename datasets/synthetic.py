"""MovieLens-shaped synthetic datasets at any size (pure numpy, no Django), for scale tests of the pipeline.

What makes it MovieLens-shaped:
- item popularity follows a power law (a few blockbusters, a long tail) and user activity a heavy-tailed
  log-normal, with every user at ``MIN_USER_RATINGS`` ratings or more, as GroupLens guarantees;
- each user rates a movie at most once: items are drawn by popularity *without replacement* (successive
  sampling, i.e. Plackett-Luce), so heavy users reach into the tail instead of re-rating blockbusters;
- scores are half stars around a per-movie quality plus a per-user bias, with some users who only give whole
  stars (as before MovieLens allowed half stars), which gives the familiar peaks at 3 and 4 stars;
- timestamps fall in each user's active period between 1996 and 2018, and never before the movie's year.

Ratings are generated a chunk of users at a time and written straight to CSV bytes by numpy, so a 20-million-
rating dataset never exists as Python objects (nor all at once as arrays). The files follow the ml-latest layout
(``movies.csv``, ``ratings.csv``, ``links.csv``) that ``catalog.importers`` reads.
"""

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

MIN_USER_RATINGS = 20
# No user rates more than this share of the catalog (ML-20M's busiest user rated about a third of it).
MAX_USER_SHARE = 0.35
CHUNK_RATINGS = 1_000_000

# Item weight ∝ (rank + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT: calibrated so that, as in ml-latest-small,
# the top 1% of movies hold about a sixth of the ratings and the top 10% more than half.
POPULARITY_EXPONENT = 1.05
POPULARITY_OFFSET = 25.0
# Extra ratings beyond the minimum per user: log-normal (median user ≈ 70 ratings, a few in the thousands).
ACTIVITY_SIGMA = 1.35
# Rejection sampling draws this many candidates per wanted item before falling back to an exact top-k.
OVERSAMPLE = 1.6

MEAN_SCORE = 3.35
QUALITY_SD, USER_BIAS_SD, NOISE_SD = 0.45, 0.4, 0.85
# Popular movies are rated a little higher (people pick what others liked).
QUALITY_POPULARITY_CORRELATION = 0.3
WHOLE_STAR_USERS = 0.4

FIRST_RATING = int(datetime(1996, 1, 1, tzinfo=UTC).timestamp())
LAST_RATING = int(datetime(2018, 9, 30, tzinfo=UTC).timestamp())
FIRST_YEAR, LAST_YEAR = 1902, 2018
# Most movies are recent: years before LAST_YEAR are exponentially distributed with this mean.
YEAR_AGE_MEAN = 17.0
# How long a user stays active: log-normal around a few days (many rate in one sitting, some for years).
ACTIVE_DAYS_MEDIAN, ACTIVE_DAYS_SIGMA = 3.0, 2.5
SECONDS_PER_DAY = 86_400

# MovieLens's genres with their frequencies in ml-latest-small (movies per genre).
GENRE_FREQUENCIES = {
    "Action": 1828,
    "Adventure": 1263,
    "Animation": 611,
    "Children": 664,
    "Comedy": 3756,
    "Crime": 1199,
    "Documentary": 440,
    "Drama": 4361,
    "Fantasy": 779,
    "Film-Noir": 87,
    "Horror": 978,
    "IMAX": 158,
    "Musical": 334,
    "Mystery": 573,
    "Romance": 1596,
    "Sci-Fi": 980,
    "Thriller": 1894,
    "War": 382,
    "Western": 167,
}
NO_GENRES = "(no genres listed)"
NO_GENRE_SHARE = 0.005
EXTRA_GENRES_MEAN = 1.3
MAX_GENRES = 6

_TITLE_WORDS = [
    "Midnight",
    "Silent",
    "Broken",
    "Golden",
    "Lost",
    "Last",
    "Hidden",
    "Wild",
    "Crimson",
    "Electric",
    "Frozen",
    "Distant",
    "Burning",
    "Secret",
    "Quiet",
    "Iron",
    "Paper",
    "Glass",
    "Northern",
    "Savage",
    "Little",
    "Endless",
    "Velvet",
    "Hollow",
    "Neon",
    "Forgotten",
    "Dark",
    "Bright",
    "Lonely",
    "Restless",
]
_TITLE_NOUNS = [
    "River",
    "City",
    "Garden",
    "Empire",
    "Summer",
    "Kingdom",
    "Road",
    "Harbor",
    "Letter",
    "Machine",
    "Mirror",
    "Storm",
    "Horizon",
    "Station",
    "Orchard",
    "Island",
    "Signal",
    "Frontier",
    "Promise",
    "Season",
    "Dream",
    "Shadow",
    "Witness",
    "Voyage",
    "Stranger",
    "Heart",
    "Village",
    "Canyon",
    "Circus",
]


@dataclass(frozen=True)
class SyntheticSize:
    users: int
    movies: int
    ratings: int


# The sizes of ml-latest-small, ML-1M and ML-20M.
PRESETS = {
    "small": SyntheticSize(users=610, movies=9_742, ratings=100_836),
    "1m": SyntheticSize(users=6_040, movies=3_706, ratings=1_000_209),
    "20m": SyntheticSize(users=138_493, movies=27_278, ratings=20_000_263),
}


@dataclass(frozen=True)
class SyntheticCatalog:
    """The movies: MovieLens ids (ascending), year, popularity weight and quality of each."""

    movie_ids: np.ndarray
    years: np.ndarray
    popularity: np.ndarray  # sampling weight, sums to 1
    quality: np.ndarray  # added to a user's expected score

    @property
    def release_times(self) -> np.ndarray:
        """Unix seconds of January 1st of each movie's year: no rating may come earlier."""
        return (self.years - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)


@dataclass(frozen=True)
class SyntheticUsers:
    """Per user (ids 1..n): how many ratings, score bias, whole-star habit and active period."""

    counts: np.ndarray
    bias: np.ndarray
    whole_stars: np.ndarray
    active_from: np.ndarray
    active_seconds: np.ndarray

    @property
    def user_ids(self) -> np.ndarray:
        return np.arange(1, len(self.counts) + 1, dtype=np.int64)


@dataclass(frozen=True)
class RatingChunk:
    """Ratings of a run of consecutive users, sorted by user then movie."""

    user_ids: np.ndarray  # int64
    movie_ids: np.ndarray  # int64
    half_stars: np.ndarray  # int8, 1..10 (score × 2)
    timestamps: np.ndarray  # int64, Unix seconds


def validate_size(size: SyntheticSize) -> None:
    """Raises ValueError for a size no MovieLens-shaped dataset can have."""
    if size.users < 1 or size.movies < MIN_USER_RATINGS:
        raise ValueError(f"need at least 1 user and {MIN_USER_RATINGS} movies, got {size.users} and {size.movies}")
    if size.ratings < MIN_USER_RATINGS * size.users:
        raise ValueError(
            f"{size.ratings:,} ratings cannot give {size.users:,} users {MIN_USER_RATINGS} ratings each "
            f"(need at least {MIN_USER_RATINGS * size.users:,})"
        )
    if size.ratings > _max_user_ratings(size.movies) * size.users:
        raise ValueError(
            f"{size.ratings:,} ratings need users who rate more than {MAX_USER_SHARE:.0%} of {size.movies:,} movies"
        )


def _max_user_ratings(n_movies: int) -> int:
    return max(MIN_USER_RATINGS, int(n_movies * MAX_USER_SHARE))


def synthetic_catalog(rng: np.random.Generator, n_movies: int) -> SyntheticCatalog:
    """Movie ids (gapped, like MovieLens's), years, power-law popularity and a quality per movie."""
    movie_ids = np.sort(rng.choice(np.arange(1, 3 * n_movies + 1), size=n_movies, replace=False)).astype(np.int64)
    ages = np.floor(rng.exponential(YEAR_AGE_MEAN, size=n_movies)).astype(np.int64)
    years = np.clip(LAST_YEAR - ages, FIRST_YEAR, LAST_YEAR)
    ranks = rng.permutation(n_movies)
    weights = (ranks + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT
    popularity = weights / weights.sum()
    standardized_log_popularity = (np.log(popularity) - np.log(popularity).mean()) / np.log(popularity).std()
    quality = QUALITY_SD * (
        QUALITY_POPULARITY_CORRELATION * standardized_log_popularity
        + np.sqrt(1 - QUALITY_POPULARITY_CORRELATION**2) * rng.standard_normal(n_movies)
    )
    return SyntheticCatalog(movie_ids=movie_ids, years=years, popularity=popularity, quality=quality)


def user_rating_counts(rng: np.random.Generator, size: SyntheticSize) -> np.ndarray:
    """Ratings per user: ``MIN_USER_RATINGS`` each plus a heavy-tailed share of the rest, summing exactly to
    ``size.ratings``, none above ``MAX_USER_SHARE`` of the catalog."""
    validate_size(size)
    cap = _max_user_ratings(size.movies)
    counts = np.full(size.users, MIN_USER_RATINGS, dtype=np.int64)
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, size=size.users)
    remaining = size.ratings - counts.sum()
    # Hand out what is left by activity; whatever lands above the cap goes round again to the others.
    while remaining > 0:
        open_users = counts < cap
        shares = np.where(open_users, activity, 0.0)
        counts += rng.multinomial(remaining, shares / shares.sum())
        overflow = np.maximum(counts - cap, 0)
        counts -= overflow
        remaining = int(overflow.sum())
    return counts


def synthetic_users(rng: np.random.Generator, size: SyntheticSize) -> SyntheticUsers:
    counts = user_rating_counts(rng, size)
    active_from = rng.integers(FIRST_RATING, LAST_RATING, size=size.users)
    active_seconds = rng.lognormal(np.log(ACTIVE_DAYS_MEDIAN * SECONDS_PER_DAY), ACTIVE_DAYS_SIGMA, size=size.users)
    return SyntheticUsers(
        counts=counts,
        bias=rng.normal(0.0, USER_BIAS_SD, size=size.users),
        whole_stars=rng.random(size.users) < WHOLE_STAR_USERS,
        active_from=active_from,
        active_seconds=np.minimum(active_seconds, LAST_RATING - active_from).astype(np.int64),
    )


def rating_chunks(
    rng: np.random.Generator, catalog: SyntheticCatalog, users: SyntheticUsers, *, chunk_ratings: int = CHUNK_RATINGS
) -> Iterator[RatingChunk]:
    """Every user's ratings, a chunk of about ``chunk_ratings`` at a time, in user order."""
    ends = np.cumsum(users.counts)
    start_user = 0
    while start_user < len(users.counts):
        done_before = ends[start_user - 1] if start_user else 0
        end_user = max(int(np.searchsorted(ends, done_before + chunk_ratings, side="right")), start_user + 1)
        yield _chunk(rng, catalog, users, slice(start_user, end_user))
        start_user = end_user


def _chunk(rng: np.random.Generator, catalog: SyntheticCatalog, users: SyntheticUsers, span: slice) -> RatingChunk:
    counts = users.counts[span]
    owners, items = _items_without_repeats(rng, catalog.popularity, counts)
    order = np.lexsort((items, owners))
    owners, items = owners[order], items[order]
    user_rows = owners + span.start

    expected = MEAN_SCORE + catalog.quality[items] + users.bias[user_rows]
    raw = expected + rng.normal(0.0, NOISE_SD, size=len(items))
    whole = users.whole_stars[user_rows]
    half_stars = np.where(whole, 2 * np.rint(raw), np.rint(2 * raw))
    half_stars = np.clip(half_stars, np.where(whole, 2, 1), 10).astype(np.int8)

    # A moment in the user's active period, moved past the movie's release when it came out later.
    release = catalog.release_times[items]
    at = users.active_from[user_rows] + (rng.random(len(items)) * users.active_seconds[user_rows]).astype(np.int64)
    late = at < release
    at[late] = release[late] + (rng.random(np.count_nonzero(late)) * (LAST_RATING - release[late])).astype(np.int64)
    return RatingChunk(
        user_ids=user_rows + 1,
        movie_ids=catalog.movie_ids[items],
        half_stars=half_stars,
        timestamps=at,
    )


def _items_without_repeats(
    rng: np.random.Generator, popularity: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each user ``u`` of the chunk, ``counts[u]`` distinct items drawn by ``popularity`` one after
    another without replacement. Returns parallel (user row in chunk, item column) arrays.

    Most users are served by rejection: draw with replacement and keep the first ``counts[u]`` distinct items
    in draw order (exactly successive sampling). Users for whom the draws held too few distinct items (the
    heaviest ones) get the equivalent Gumbel top-k over the whole catalog.
    """
    n_users, n_items = len(counts), len(popularity)
    draws = counts + np.ceil(counts * (OVERSAMPLE - 1)).astype(np.int64) + 8
    drawn_by = np.repeat(np.arange(n_users, dtype=np.int64), draws)
    cumulative = np.cumsum(popularity)
    drawn = np.searchsorted(cumulative, rng.random(len(drawn_by)) * cumulative[-1], side="right")
    drawn = np.minimum(drawn, n_items - 1)

    pair_keys, first_draw = np.unique(drawn_by * n_items + drawn, return_index=True)
    pair_users, pair_items = pair_keys // n_items, pair_keys % n_items
    in_draw_order = np.lexsort((first_draw, pair_users))
    pair_users, pair_items = pair_users[in_draw_order], pair_items[in_draw_order]
    distinct = np.bincount(pair_users, minlength=n_users)
    rank = np.arange(len(pair_users)) - np.repeat(np.cumsum(distinct) - distinct, distinct)
    served = distinct >= counts
    kept = served[pair_users] & (rank < counts[pair_users])
    users_parts, items_parts = [pair_users[kept]], [pair_items[kept]]

    log_popularity = np.log(popularity)
    unserved = np.flatnonzero(~served)
    block = max(1, 4_000_000 // n_items)
    for start in range(0, len(unserved), block):
        rows = unserved[start : start + block]
        keys = log_popularity[None, :] + rng.gumbel(size=(len(rows), n_items))
        best_first = np.argsort(-keys, axis=1)
        wanted = np.arange(n_items)[None, :] < counts[rows][:, None]
        users_parts.append(np.broadcast_to(rows[:, None], best_first.shape)[wanted])
        items_parts.append(best_first[wanted])
    return np.concatenate(users_parts), np.concatenate(items_parts)


# --- Writing the ml-latest CSV layout -----------------------------------------------------------------------


def _ascii_digits(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as a ``len(values) × width`` matrix of ASCII digits; leading zeros become 0
    bytes, which ``_csv_bytes`` drops."""
    values = np.asarray(values, dtype=np.int64)
    width = len(str(int(values.max()))) if len(values) else 1
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10
    significant = (values[:, None] >= powers) | (powers == 1)
    return np.where(significant, digits + ord("0"), 0).astype(np.uint8)


def _csv_bytes(columns: list[np.ndarray]) -> bytes:
    """Rows of byte columns (from ``_ascii_digits`` or single characters) joined by commas, one line each."""
    n_rows = columns[0].shape[0]
    comma = np.full((n_rows, 1), ord(","), dtype=np.uint8)
    parts = []
    for column in columns:
        parts += [column.reshape(n_rows, -1), comma]
    parts[-1] = np.full((n_rows, 1), ord("\n"), dtype=np.uint8)
    table = np.concatenate(parts, axis=1)
    return table[table != 0].tobytes()


def rating_chunk_csv(chunk: RatingChunk) -> bytes:
    """``userId,movieId,rating,timestamp`` lines, ratings spelled like MovieLens's (``4.0``, ``3.5``)."""
    whole, half = np.divmod(chunk.half_stars.astype(np.int64), 2)
    score = np.stack(
        [whole + ord("0"), np.full(len(whole), ord(".")), np.where(half == 1, ord("5"), ord("0"))], axis=1
    ).astype(np.uint8)
    return _csv_bytes(
        [_ascii_digits(chunk.user_ids), _ascii_digits(chunk.movie_ids), score, _ascii_digits(chunk.timestamps)]
    )


def _movie_genres(rng: np.random.Generator, n_movies: int) -> list[str]:
    names = sorted(GENRE_FREQUENCIES)
    log_weights = np.log(np.array([GENRE_FREQUENCIES[name] for name in names], dtype=np.float64))
    how_many = np.minimum(1 + rng.poisson(EXTRA_GENRES_MEAN, size=n_movies), MAX_GENRES)
    # Gumbel top-k: each movie's genres drawn by frequency without repeats.
    keys = log_weights[None, :] + rng.gumbel(size=(n_movies, len(names)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < how_many[:, None]
    no_genres = rng.random(n_movies) < NO_GENRE_SHARE
    return [
        NO_GENRES if none else "|".join(name for name, picked in zip(names, row, strict=True) if picked)
        for row, none in zip(chosen, no_genres, strict=True)
    ]


def _titles(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    adjectives = rng.integers(0, len(_TITLE_WORDS), size=len(years))
    nouns = rng.integers(0, len(_TITLE_NOUNS), size=len(years))
    sequels = rng.integers(1, 6, size=len(years))
    has_sequel = rng.random(len(years)) < 0.08
    # MovieLens moves a leading article behind a comma: "Lost River, The (1999)".
    has_article = rng.random(len(years)) < 0.15
    titles = []
    for adjective, noun, sequel, is_sequel, article, year in zip(
        adjectives, nouns, sequels, has_sequel, has_article, years, strict=True
    ):
        title = f"{_TITLE_WORDS[adjective]} {_TITLE_NOUNS[noun]}"
        title += f" {sequel + 1}" if is_sequel else ""
        title += ", The" if article else ""
        titles.append(f"{title} ({year})")
    return titles


@dataclass(frozen=True)
class SyntheticSummary:
    users: int
    movies: int
    ratings: int
    path: Path


def synthetic_dataset_write(
    *, size: SyntheticSize, out_dir: Path, seed: int = 0, on_ratings: Callable[[int], None] | None = None
) -> SyntheticSummary:
    """Writes ``movies.csv``, ``links.csv`` and ``ratings.csv`` (ml-latest layout) of a dataset of ``size``
    into ``out_dir``. The same seed and size always give the same files. ``on_ratings(n)`` is told of every
    chunk of ratings written (a progress bar's hook)."""
    validate_size(size)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalog = synthetic_catalog(rng, size.movies)
    users = synthetic_users(rng, size)

    with (out_dir / "movies.csv").open("w", newline="", encoding="utf-8") as movies_file:
        writer = csv.writer(movies_file, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        titles, genres = _titles(rng, catalog.years), _movie_genres(rng, size.movies)
        writer.writerows(zip(catalog.movie_ids.tolist(), titles, genres, strict=True))

    imdb_ids = rng.choice(np.arange(1, 10_000_000), size=size.movies, replace=False)
    tmdb_ids = rng.choice(np.arange(1, 1_000_000), size=size.movies, replace=False)
    with (out_dir / "links.csv").open("w", newline="", encoding="utf-8") as links_file:
        writer = csv.writer(links_file, lineterminator="\n")
        writer.writerow(["movieId", "imdbId", "tmdbId"])
        writer.writerows(
            (movie_id, f"{imdb_id:07d}", tmdb_id)
            for movie_id, imdb_id, tmdb_id in zip(
                catalog.movie_ids.tolist(), imdb_ids.tolist(), tmdb_ids.tolist(), strict=True
            )
        )

    written = 0
    with (out_dir / "ratings.csv").open("wb") as ratings_file:
        ratings_file.write(b"userId,movieId,rating,timestamp\n")
        for chunk in rating_chunks(rng, catalog, users):
            ratings_file.write(rating_chunk_csv(chunk))
            written += len(chunk.user_ids)
            if on_ratings is not None:
                on_ratings(len(chunk.user_ids))
    return SyntheticSummary(users=size.users, movies=size.movies, ratings=written, path=out_dir)
