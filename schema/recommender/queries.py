import copy
from dataclasses import replace

import graphene
from graphql import OperationType

from nexus.answer_versions import answer_depends_on
from nexus.versions import viewer_copy
from recommender import selectors
from recommender.store import user_list_version_key
from schema.catalog.loaders import viewer_memo_prefix
from schema.catalog.types import MovieType
from schema.core.auth import viewer
from schema.core.errors import refused_as_bad_input
from schema.core.loaders import request_memo
from schema.core.pagination import SHORT_LIST_DEFAULT, SHORT_LIST_MAX, short_list_size
from schema.recommender.auth import require_staff
from schema.recommender.types import RecommendationType, RecommenderStatusType
from schema.users.types import RecommendationStrategy

FIRST_HELP = f"How many (0–{SHORT_LIST_MAX}; default {SHORT_LIST_DEFAULT})."
GENRE_HELP = "Only this genre (name or slug)."


class RecommenderQueries(graphene.ObjectType):
    recommendations = graphene.List(
        graphene.NonNull(RecommendationType),
        required=True,
        first=graphene.Int(default_value=SHORT_LIST_DEFAULT, description=FIRST_HELP),
        genre=graphene.String(description=GENRE_HELP),
        strategy=graphene.Argument(
            RecommendationStrategy,
            description="How to order the list. Left out: your saved strategy (`me.recommendationStrategy`, set "
            "with updateProfile), which is BALANCED until you change it; BALANCED for anonymous visitors.",
        ),
        include_watchlist=graphene.Boolean(
            default_value=False,
            description="Also list movies on your watchlist (left out by default: you already plan to watch them).",
        ),
        description="Movies for you, best first, each with a reason; never one you rated, watched or hid, nor by "
        "default one on your watchlist. Anonymous visitors get what is trending.",
    )
    trending = graphene.List(
        graphene.NonNull(MovieType),
        required=True,
        first=graphene.Int(description=FIRST_HELP),
        genre=graphene.String(description=GENRE_HELP),
        description="Movies with the most recent activity (ratings, favorites, viewings; older activity "
        "counts less), topped up with popular ones.",
    )
    recommender_status = graphene.Field(
        graphene.NonNull(RecommenderStatusType),
        description="The model version being served and the latest training runs (staff only).",
    )

    @staticmethod
    def resolve_recommendations(
        root, info, first=SHORT_LIST_DEFAULT, genre=None, strategy=None, include_watchlist=False
    ):
        size = short_list_size(first)
        user = viewer(info)
        with_watchlist = not include_watchlist
        strategy = getattr(strategy, "value", strategy)  # graphene gives the enum member

        def computed() -> tuple:
            seen = (
                request_memo(
                    info,
                    f"{viewer_memo_prefix(user)}seen_movie_ids:{'with' if with_watchlist else 'without'}_watchlist",
                    lambda: selectors.user_seen_movie_ids(user=user, with_watchlist=with_watchlist),
                )
                if user
                else frozenset()
            )
            with refused_as_bad_input():
                return tuple(
                    selectors.recommendation_list(
                        user=user, first=size, genre=genre, seen_movie_ids=seen, strategy=strategy
                    )
                )

        if user is None or info.operation.operation != OperationType.QUERY:
            return list(computed())  # a mutation's payload reads what the mutation just changed
        # The answer shows the stored list: a refresh of it invalidates the answer (read before the list).
        list_version = user_list_version_key(user.pk)
        answer_depends_on(list_version)
        # The same arguments under the same versions: the same list, for a document or variables of another shape.
        arguments = f"recommendations:{size}:{genre}:{strategy}:{with_watchlist}"
        picked_list = viewer_copy(str(user.pk), arguments, computed, also=[list_version])
        return [replace(picked, movie=copy.copy(picked.movie)) for picked in picked_list]

    @staticmethod
    def resolve_trending(root, info, first=None, genre=None):
        size = short_list_size(first)
        with refused_as_bad_input():
            movies = selectors.trending_movies(first=size, genre=genre)
        return movies

    @staticmethod
    def resolve_recommender_status(root, info):
        require_staff(info)
        version, runs = selectors.recommender_status()
        return RecommenderStatusType(current_version=version, runs=runs)
