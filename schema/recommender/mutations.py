import graphene

from recommender.models import ModelRun
from recommender.training import recommender_training_enqueue
from schema.core.mutations import BaseMutation
from schema.recommender.auth import require_staff
from schema.recommender.types import ModelRunType


class RetrainRecommender(BaseMutation):
    """Train a new recommender version now (staff only). The training runs in a worker; follow it in
    recommenderStatus."""

    run = graphene.Field(ModelRunType, description="The queued training run; null when there are errors.")
    login_required = True

    @classmethod
    def perform(cls, info):
        user = require_staff(info)
        return {"run": recommender_training_enqueue(triggered_by=ModelRun.Trigger.STAFF, requested_by=user)}


class RecommenderMutations(graphene.ObjectType):
    retrain_recommender = RetrainRecommender.Field()
