"""Serving recommendations: precomputed lists from the score store, hydrated into movies with reasons, and the
fallbacks that answer when there is no list (item-to-item from recent high ratings → popular in the viewer's
favorite genres → popular). Nothing here fails because the store or the model is unavailable."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from catalog import filters
from catalog.cards import MovieCard, cards_in_order, first_cards, in_order, movie_cards, movies_from_cards
from catalog.models import Movie
from catalog.selectors import popular_movies
from nexus.metrics import RECOMMENDATION_CACHE
from recommender import store
from recommender.algorithms.hybrid import Source
from recommender.models import ModelRun
from recommender.scores import calibrated
from recommender.store import Reason
from recommender.strategies import Strategy, reorder_entries
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent, WatchlistItem
from users.selectors import library_rows, placeholders

# Recent ratings at least this high seed the item-to-item fallback.
SEED_MIN_SCORE = 4
SEED_RATINGS = 10
STATUS_RUNS = 10


@dataclass(frozen=True)
class Recommendation:
    movie: Movie
    score: float
    source: Source
    reason: str
    # Which ``recommender.scores.CURVES`` entry the movie's place is scored by: the kind of list it came from.
    kind: str = "popular"


def user_seen_movie_ids(*, user: User, with_watchlist: bool = False) -> frozenset[int]:
    """Movies the user rated, favorited, watched or hid: never recommended to them (one query); with
    ``with_watchlist``, their watchlist too (left out of recommendations unless they ask for it)."""
    return frozenset(_seen_by_user([user.pk], with_watchlist=with_watchlist).get(user.pk, ()))


def recommendation_list(
    *,
    user: User | None,
    first: int,
    genre: str | None = None,
    seen_movie_ids: frozenset[int] = frozenset(),
    strategy: Strategy | str | None = None,
) -> list[Recommendation]:
    """The viewer's ``first`` recommendations, optionally within one genre (name or slug), ordered by
    ``strategy`` (default: the viewer's saved one, ``User.recommendation_strategy``).

    Signed-in viewers get their precomputed list without what they rated, watched or hid since it was computed
    (``seen_movie_ids``, see ``user_seen_movie_ids``; pass the watchlist there too to leave it out), re-ranked
    for the strategy, topped up with popular movies when a genre leaves it short; without a list, the
    fallbacks. Anonymous visitors get trending movies. Scores are ``recommender.scores.calibrated``: in [0, 1]
    and non-increasing down the list.
    """
    genre_id = filters.genre_id(genre)
    if first == 0:
        return []
    if user is None:
        return _scored(_trending_recommendations(first=first, genre=genre, genre_id=genre_id))
    strategy = Strategy(strategy or user.recommendation_strategy or Strategy.BALANCED)
    try:
        entries = store.user_list(user_id=user.pk)
    except store.StoreUnavailable:
        RECOMMENDATION_CACHE.labels(outcome="fallback").inc()
        return _scored(
            _fallback(user=user, first=first, genre=genre, genre_id=genre_id, seen=seen_movie_ids, with_similar=False)
        )
    if entries is None:
        RECOMMENDATION_CACHE.labels(outcome="miss").inc()
        return _scored(
            _fallback(user=user, first=first, genre=genre, genre_id=genre_id, seen=seen_movie_ids, with_similar=True)
        )
    RECOMMENDATION_CACHE.labels(outcome="hit").inc()
    entries = entries[~np.isin(entries["movie"], list(seen_movie_ids))]
    # Without a genre the first ``first`` of the order are served; with one, the whole order is filtered.
    entries = reorder_entries(entries, strategy, k=first if genre_id is None else len(entries))
    picked = _stored_recommendations(entries, first=first, genre_id=genre_id, kind=strategy.value)
    return _scored(_topped_up(picked, first=first, genre=genre, seen=seen_movie_ids))


def _scored(recommendations: list[Recommendation]) -> list[Recommendation]:
    """The list with each score the calibrated estimate of its place and kind (``recommender.scores``)."""
    scores = calibrated([recommendation.kind for recommendation in recommendations])
    return [replace(picked, score=score) for picked, score in zip(recommendations, scores, strict=True)]


def trending_movies(*, first: int, genre: str | None = None) -> list[Movie]:
    """Movies with the most recent activity (precomputed, time-decayed), topped up with popular ones."""
    genre_id = filters.genre_id(genre)
    return [picked.movie for picked in _trending_recommendations(first=first, genre=genre, genre_id=genre_id)]


def similar_movies_many(*, movie_ids: Sequence[int], first: int) -> dict[int, list[MovieCard]]:
    """The cards of the movies like each of these movies, by movie id: its precomputed similar list; without
    one, popular movies sharing its genres. One read of the store, the genres of the movies without a list from
    their cards, one query for what shares them, and the cards of the similar movies, however many movies are
    asked about."""
    movie_ids = list(movie_ids)
    if first == 0:
        return {movie_id: [] for movie_id in movie_ids}
    try:
        stored = store.similar_lists(movie_ids=movie_ids)
    except store.StoreUnavailable:
        stored = {}
    similar_ids = {movie_id: entries["movie"][:first].tolist() for movie_id, entries in stored.items()}
    unlisted = movie_cards(movie_id for movie_id in movie_ids if movie_id not in stored)
    similar_ids.update(_popular_sharing_genres(unlisted, first=first))
    cards = movie_cards(movie_id for listed in similar_ids.values() for movie_id in listed)
    return {movie_id: cards_in_order(cards, similar_ids.get(movie_id, ())) for movie_id in movie_ids}


@dataclass(frozen=True)
class ExportedRecommendation:
    movie_id: int
    movielens_id: int
    score: float
    source: Source


def user_recommendations_export(
    *, users: Sequence[User], limit: int
) -> Iterator[tuple[User, list[ExportedRecommendation]]]:
    """Each user's top ``limit``, without titles or reasons, for exporting many users: one read of the store,
    one query for what they have seen and one for the movies' MovieLens ids per call. Users without a stored
    list get the fallbacks of ``recommendation_list``."""
    try:
        lists = store.user_lists(user_ids=[user.pk for user in users])
    except store.StoreUnavailable:
        lists = {}
    seen = _seen_by_user(list(lists))
    balanced = {user_id: store.balanced(entries) for user_id, entries in lists.items()}
    unseen = {
        user_id: entries[~np.isin(entries["movie"], list(seen.get(user_id, ())))][:limit]
        for user_id, entries in balanced.items()
    }
    listed = np.unique(np.concatenate([entries["movie"] for entries in unseen.values()] or [[]]))
    movielens_ids = dict(Movie.objects.filter(pk__in=listed.tolist()).values_list("pk", "movielens_id"))
    for user in users:
        if user.pk in unseen:
            entries = unseen[user.pk]
            kept = [
                (movie_id, Source(source))
                for movie_id, source in zip(entries["movie"].tolist(), entries["source"].tolist(), strict=True)
                if movie_id in movielens_ids
            ]
            scores = calibrated([Strategy.BALANCED.value] * len(kept))
            items = [
                ExportedRecommendation(movie_id, movielens_ids[movie_id], score, source)
                for (movie_id, source), score in zip(kept, scores, strict=True)
            ]
        else:
            fallback = recommendation_list(user=user, first=limit, seen_movie_ids=user_seen_movie_ids(user=user))
            items = [
                ExportedRecommendation(picked.movie.pk, picked.movie.movielens_id, picked.score, picked.source)
                for picked in fallback
            ]
        yield user, items


def _seen_by_user(user_ids: list[int], *, with_watchlist: bool = False) -> dict[int, set[int]]:
    """What each user rated, favorited, watched or hid (and, ``with_watchlist``, planned to watch), by user id
    (one query)."""
    if not user_ids:
        return {}
    models = (Rating, Favorite, WatchEvent, HiddenMovie, *((WatchlistItem,) if with_watchlist else ()))
    rows = library_rows(
        [("user_id, movie_id", model) for model in models], f"user_id IN ({placeholders(user_ids)})", user_ids
    )
    seen: dict[int, set[int]] = {}
    for user_id, movie_id in rows:
        seen.setdefault(user_id, set()).add(movie_id)
    return seen


def recommender_status() -> tuple[str | None, QuerySet[ModelRun]]:
    """The version being served (None when there is none or the store is unreachable) and the latest runs."""
    try:
        version = store.current_version()
    except store.StoreUnavailable:
        version = None
    return version, ModelRun.objects.select_related("requested_by")[:STATUS_RUNS]


# --- Building lists -----------------------------------------------------------------------------------------


def _stored_recommendations(
    entries: np.ndarray, *, first: int, genre_id: int | None, kind: str
) -> list[Recommendation]:
    """Recommendations from stored ``store.ENTRY`` records, best first: the movies, and those their reasons
    name, from one read of their cards."""
    # Without a genre filter every listed movie qualifies, so only the first few need loading.
    candidates = entries if genre_id is not None else entries[:first]
    candidate_ids = candidates["movie"].tolist()
    naming = np.isin(candidates["reason"], [*_MOVIE_REASONS, Reason.LIKED_TOGETHER])
    together = candidates["reason"] == Reason.LIKED_TOGETHER
    named_ids = [*candidates["subject"][naming].tolist(), *candidates["other"][together].tolist()]
    cards = movie_cards([*candidate_ids, *named_ids])
    movies = in_order(cards, candidate_ids, genre_id=genre_id)[:first]
    by_movie = {int(entry["movie"]): entry for entry in candidates}
    chosen = [by_movie[movie.pk] for movie in movies]
    titles = {movie_id: cards[movie_id].title for movie_id in named_ids if movie_id in cards}
    return [
        Recommendation(
            movie=movie,
            score=float(entry["score"]),
            source=Source(int(entry["source"])),
            reason=_reason_text(
                Reason(int(entry["reason"])),
                cards[movie.pk],
                int(entry["subject"]),
                int(entry["stars"]),
                titles,
                other=int(entry["other"]),
            ),
            kind=kind,
        )
        for movie, entry in zip(movies, chosen, strict=True)
    ]


_MOVIE_REASONS = (Reason.RATED, Reason.FAVORITED, Reason.WATCHED)


def _reason_text(
    reason: Reason, card: MovieCard, subject: int, half_stars: int, titles: dict[int, str], *, other: int = 0
) -> str:
    """The reason in words, from the stored codes: ``subject`` and ``other`` name movies (``titles``) or one of
    the movie's genres; ``half_stars`` is the user's rating, or for a trending movie whether it had activity
    this week."""
    if reason == Reason.LIKED_TOGETHER and subject in titles and other in titles:
        return f"Popular with people who liked {titles[subject]} and {titles[other]}"
    if reason in _MOVIE_REASONS and subject in titles:
        title = titles[subject]
        if reason == Reason.RATED:
            return f"Because you rated {title} {half_stars / 2:g}★"
        if reason == Reason.FAVORITED:
            return f"Because you added {title} to favorites"
        return f"Because you watched {title}"
    genre = next((genre.name for genre in card.genres if genre.pk == subject), None)
    if reason == Reason.LIKED_GENRE and genre:
        return f"Because you like {genre}"
    if reason == Reason.TRENDING_IN_GENRE and genre:
        return f"Trending in {genre} this week" if half_stars else f"Trending in {genre}"
    if reason == Reason.LIKED_TOGETHER and subject in titles:  # one of the two is no longer in the catalog
        return f"Because you liked {titles[subject]}"
    if reason == Reason.TRENDING:
        return "Trending now"
    if reason == Reason.POPULAR:
        return "Popular on Nexus"
    return "Picked for your taste"


def _trending_recommendations(*, first: int, genre: str | None, genre_id: int | None) -> list[Recommendation]:
    try:
        entries = store.trending_list(genre_id=genre_id)
    except store.StoreUnavailable:
        entries = None
    picked = (
        _stored_recommendations(entries[:first], first=first, genre_id=None, kind="trending")
        if entries is not None
        else []
    )
    return _topped_up(picked, first=first, genre=genre, seen=frozenset())


def _topped_up(
    picked: list[Recommendation], *, first: int, genre: str | None, seen: frozenset[int]
) -> list[Recommendation]:
    """``picked``, then popular movies (within ``genre``) until there are ``first``."""
    if len(picked) >= first:
        return picked
    listed = seen | {recommendation.movie.pk for recommendation in picked}
    popular = movies_from_cards(popular_movies(genre=genre).exclude(pk__in=listed), limit=first - len(picked))
    return picked + [_popular_recommendation(movie, "Popular on Nexus") for movie in popular]


def _popular_recommendation(movie: Movie, reason: str) -> Recommendation:
    return Recommendation(movie=movie, score=movie.popularity, source=Source.POPULAR, reason=reason)


def _fallback(
    *,
    user: User,
    first: int,
    genre: str | None,
    genre_id: int | None,
    seen: frozenset[int],
    with_similar: bool,
) -> list[Recommendation]:
    """Without a precomputed list: movies like what the user recently rated highly (``with_similar``: when the
    store can serve similar lists), then popular movies in their favorite genres, then popular movies."""
    picked = _item_to_item(user=user, first=first, genre_id=genre_id, seen=seen) if with_similar else []
    if len(picked) < first:
        listed = seen | {recommendation.movie.pk for recommendation in picked}
        picked += _popular_in_favorite_genres(user=user, first=first - len(picked), genre_id=genre_id, listed=listed)
    return _topped_up(picked, first=first, genre=genre, seen=seen)


def _item_to_item(*, user: User, first: int, genre_id: int | None, seen: frozenset[int]) -> list[Recommendation]:
    """Movies similar to the user's most recent high ratings: each candidate scores the sum of its similarity
    to them, and its reason names the rating that contributed most."""
    seeds = dict(
        Rating.objects.filter(user=user, score__gte=SEED_MIN_SCORE)
        .order_by("-updated_at", "-id")
        .values_list("movie_id", "score")[:SEED_RATINGS]
    )
    try:
        similar = store.similar_lists(movie_ids=seeds)
    except store.StoreUnavailable:
        return []
    totals: dict[int, float] = {}
    strongest: dict[int, tuple[float, int]] = {}  # the largest similarity to one seed, and that seed
    for seed, entries in similar.items():
        for movie_id, score in zip(entries["movie"].tolist(), entries["score"].tolist(), strict=True):
            if movie_id in seen or movie_id in seeds:
                continue
            totals[movie_id] = totals.get(movie_id, 0.0) + score
            if score > strongest.get(movie_id, (-np.inf, seed))[0]:
                strongest[movie_id] = (score, seed)
    ranked = sorted(totals, key=lambda movie_id: (-totals[movie_id], movie_id))
    candidates = ranked if genre_id is not None else ranked[:first]
    cards = movie_cards([*candidates, *seeds])  # the movies, and the seeds their reasons name
    movies = in_order(cards, candidates, genre_id=genre_id)[:first]
    titles = {seed: cards[seed].title for seed in seeds if seed in cards}
    return [
        Recommendation(
            movie=movie,
            score=totals[movie.pk],
            source=Source.SIMILAR,
            reason=_reason_text(
                Reason.RATED, cards[movie.pk], strongest[movie.pk][1], int(seeds[strongest[movie.pk][1]] * 2), titles
            ),
            kind="similar",
        )
        for movie in movies
    ]


def _popular_in_favorite_genres(
    *, user: User, first: int, genre_id: int | None, listed: frozenset[int]
) -> list[Recommendation]:
    favorite_ids = set(user.favorite_genres.values_list("pk", flat=True))
    if genre_id is not None:
        favorite_ids &= {genre_id}
    if not favorite_ids:
        return []
    cards = first_cards(
        Movie.objects.filter(genres__in=favorite_ids).exclude(pk__in=listed).distinct().order_by("-popularity", "id"),
        limit=first,
    )
    recommendations = []
    for card in cards:
        genre = next(genre.name for genre in card.genres if genre.pk in favorite_ids)
        recommendations.append(_popular_recommendation(card.movie, f"Popular in {genre}, a genre you like"))
    return recommendations


def _popular_sharing_genres(cards: dict[int, MovieCard], *, first: int) -> dict[int, list[int]]:
    """For each movie (of ``cards``, by id), the ids of the ``first`` most popular other movies sharing a genre
    with it, by movie id: one query for all of them.

    The query ranks every genre's movies by popularity and keeps each genre's top ``first + 1`` (the movie
    itself may be among them); the top ``first`` sharing any of a movie's genres are always among those of
    its genres, so merging them is exact.
    """
    genres_of = {movie_id: {genre.pk for genre in card.genres} for movie_id, card in cards.items()}
    wanted_genres = set().union(*genres_of.values())
    if not wanted_genres:
        return {movie_id: [] for movie_id in genres_of}
    membership = Movie.genres.through.objects.filter(genre_id__in=wanted_genres)
    ranked = membership.annotate(
        rank=Window(
            RowNumber(),
            partition_by=F("genre_id"),
            order_by=[F("movie__popularity").desc(), F("movie_id").asc()],
        )
    ).filter(rank__lte=first + 1)
    top_of_genre: dict[int, list[tuple[float, int]]] = {}
    for genre_id, movie_id, popularity in ranked.values_list("genre_id", "movie_id", "movie__popularity"):
        top_of_genre.setdefault(genre_id, []).append((-popularity, movie_id))
    similar = {}
    for movie_id, genres in genres_of.items():
        candidates = {entry for genre_id in genres for entry in top_of_genre.get(genre_id, ())}
        similar[movie_id] = [other for _, other in sorted(candidates) if other != movie_id][:first]
    return similar
