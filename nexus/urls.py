from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from graphql_jwt.decorators import jwt_cookie

from nexus import health, landing, metrics
from schema.pipeline.view import NexusGraphQLView

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("admin/", admin.site.urls),
    # Bearer-token clients need no CSRF protection; requests carrying token cookies get it in the view itself.
    # jwt_cookie writes token cookies only when a mutation asks for it, which happens in cookie mode
    # (settings.NEXUS_JWT_COOKIE).
    path("graphql", csrf_exempt(jwt_cookie(NexusGraphQLView.as_view())), name="graphql"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
