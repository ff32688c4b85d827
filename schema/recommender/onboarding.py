import graphene

from recommender.onboarding import onboarding_movies
from schema.catalog.types import MovieType
from schema.core.auth import viewer
from schema.core.errors import refused_as_bad_input
from schema.core.pagination import SHORT_LIST_MAX, short_list_size

ONBOARDING_DEFAULT = 20


class OnboardingQueries(graphene.ObjectType):
    onboarding = graphene.List(
        graphene.NonNull(MovieType),
        required=True,
        first=graphene.Int(
            default_value=ONBOARDING_DEFAULT,
            description=f"How many (0–{SHORT_LIST_MAX}; default {ONBOARDING_DEFAULT}).",
        ),
        genres=graphene.List(
            graphene.NonNull(graphene.String),
            description="Only movies of any of these genres (names or slugs), e.g. the ones the person likes.",
        ),
        description="Movies to ask a new user to rate first, the ones whose ratings teach the recommender the most "
        "about them: known enough to have been seen, rated very differently by different people, spread over "
        "genres and decades; never one you rated already. Distinct, most informative first.",
    )

    @staticmethod
    def resolve_onboarding(root, info, first=ONBOARDING_DEFAULT, genres=None):
        size = short_list_size(first)
        with refused_as_bad_input():
            movies = onboarding_movies(user=viewer(info), first=size, genres=genres)
        return movies
