"""The landing page at ``/``: what Nexus is and where everything it serves lives (GraphiQL, shared example
queries, health, metrics, admin). Server-rendered from nexus/templates/nexus/landing.html, with nothing loaded from
elsewhere and no database or cache touched, so it answers whatever state the dependencies are in."""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

# Each opens GraphiQL with the query loaded (a shared /graphql?query=… link); they need no sign-in.
EXAMPLES = (
    (
        "Search, typo-tolerant and ranked",
        '{ movies(search: "godfahter", first: 5) { edges { node { title year } } } }',
    ),
    (
        "The best-rated comedies of the 1990s",
        '{ movies(first: 10, genres: ["Comedy"], yearFrom: 1990, yearTo: 1999, minVotes: 20, '
        "orderBy: {field: RATING, direction: DESC}) { totalCount edges { node { title year ratingMean } } } }",
    ),
    (
        "One movie and the movies most like it",
        "{ movie(tmdbId: 862) { title year runtime overview genres { name } similar(first: 5) { title } } }",
    ),
    ("Genres and what is popular", '{ genres { name movieCount } popular(first: 10, genre: "sci-fi") { title } }'),
)


@require_safe  # GET and HEAD; anything else is 405
@cache_control(public=True, max_age=300)
def landing(request):
    graphql = reverse("graphql")
    examples = [
        {"title": title, "query": query, "url": f"{graphql}?{urlencode({'query': query})}"} for title, query in EXAMPLES
    ]
    context = {
        "graphql_url": graphql,
        "graphql_absolute_url": request.build_absolute_uri(graphql),
        "examples": examples,
        "metrics_need_token": bool(settings.NEXUS_METRICS_TOKEN),
    }
    return render(request, "nexus/landing.html", context)
