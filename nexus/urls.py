from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from schema.views import NexusGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    # API clients authenticate with a bearer token, not a cookie, so Django's CSRF check does not apply.
    path("graphql", csrf_exempt(NexusGraphQLView.as_view()), name="graphql"),
]
