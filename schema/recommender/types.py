import graphene
from graphene import relay
from graphene.types.generic import GenericScalar
from graphene_django import DjangoObjectType

from recommender.algorithms.hybrid import Source
from recommender.models import ModelRun
from schema.catalog.types import MovieType
from schema.core.auth import viewer
from schema.core.scalars import DateTime

_SOURCE_DESCRIPTIONS = {
    Source.COLLABORATIVE: "Liked by people whose ratings resemble yours (collaborative filtering).",
    Source.CONTENT: "Shares genres, tags or keywords with what you like.",
    Source.POPULAR: "Popular on Nexus, in a genre you like where you told us one.",
    Source.TRENDING: "Much watched and rated lately.",
    Source.SIMILAR: "Similar to a movie you recently rated highly.",
}


def _describe_source(value):
    if value is None:
        return "Where a recommendation comes from."
    return _SOURCE_DESCRIPTIONS[value]


RecommendationSource = graphene.Enum.from_enum(Source, name="RecommendationSource", description=_describe_source)


class RecommendationType(graphene.ObjectType):
    """A movie recommended to you, with why. It has no id of its own: it is a place in your list, not an object
    (its score and reason change with every refresh), so client caches keep it inside the list; its movie is
    cached under `Movie.id`."""

    movie = graphene.Field(graphene.NonNull(MovieType), description="The movie.")
    score = graphene.Float(
        required=True,
        description="How likely you are to watch and rate it, 0 to 1: the share of people for whom a movie at "
        "this place of this kind of list (personal, similar, popular, trending) was one they went on to rate, "
        "measured offline. Comparable across lists and sources; never higher than the score above it.",
    )
    source = graphene.Field(RecommendationSource, required=True, description="Where the recommendation comes from.")
    reason = graphene.String(
        required=True,
        description='Why, for people, from your data: "Because you rated Alien 5★", "Because you like Sci-Fi", '
        '"Popular with people who liked Alien and Aliens", "Trending in Comedy this week".',
    )

    class Meta:
        name = "Recommendation"


_RUN_STATUS_DESCRIPTIONS = {
    ModelRun.Status.QUEUED: "Requested, waiting for a worker.",
    ModelRun.Status.RUNNING: "Training now.",
    ModelRun.Status.SUCCEEDED: "Trained; its version was switched live.",
    ModelRun.Status.FAILED: "Stopped with an error; the previous version stays live.",
}
ModelRunStatus = graphene.Enum.from_enum(
    ModelRun.Status,
    name="ModelRunStatus",
    description=lambda value: _RUN_STATUS_DESCRIPTIONS[value] if value else "Where a training run is.",
)
ModelRunTrigger = graphene.Enum.from_enum(
    ModelRun.Trigger,
    name="ModelRunTrigger",
    description=lambda value: f"Started by {value.label}." if value else "What started a training run.",
)


class ModelRunType(DjangoObjectType):
    """One training of the recommender (staff only: `node(id:)` answers null to anyone else)."""

    version = graphene.String(description="Name of the model version; null until the run starts.")
    status = graphene.Field(ModelRunStatus, required=True, description="Where the run is.")
    triggered_by = graphene.Field(ModelRunTrigger, required=True, description="What started it.")
    algorithm = graphene.String(required=True, description="The collaborative model blended in the hybrid.")
    parameters = GenericScalar(required=True, description="Hyper-parameters of every part of the model.")
    n_users = graphene.Int(required=True, description="Users in the interaction matrix.")
    n_items = graphene.Int(required=True, description="Movies in the interaction matrix.")
    n_interactions = graphene.Int(required=True, description="Ratings, favorites, viewings and hides trained on.")
    timings = GenericScalar(required=True, description="Seconds per pipeline step, and the total.")
    metrics = GenericScalar(required=True, description="What the lists look like: coverage, explained reasons.")
    error = graphene.String(required=True, description="Why the run failed; empty otherwise.")
    created_at = DateTime(required=True, description="When the run was requested.")
    started_at = DateTime(description="When training started.")
    finished_at = DateTime(description="When training ended.")

    class Meta:
        model = ModelRun
        name = "ModelRun"
        interfaces = (relay.Node,)
        fields = (
            "id",
            "version",
            "status",
            "triggered_by",
            "algorithm",
            "parameters",
            "n_users",
            "n_items",
            "n_interactions",
            "timings",
            "metrics",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        caller = viewer(info)
        return ModelRun.objects.filter(pk=id).first() if caller is not None and caller.is_staff else None


class RecommenderStatusType(graphene.ObjectType):
    """What the recommender serves and how its latest trainings went (staff only). No id: there is one, which
    client caches keep under `recommenderStatus`; its runs are cached under `ModelRun.id`."""

    current_version = graphene.String(
        description="The model version being served; null before the first training, or with the store down."
    )
    runs = graphene.List(
        graphene.NonNull(ModelRunType), required=True, description="The latest training runs, newest first."
    )

    class Meta:
        name = "RecommenderStatus"
