"""The baseline the benchmark compares GraphQL with: a plain Django ORM JSON view.

It returns exactly what ``{ movies(first: 20) { edges { node { id title year genres { name } } } } }`` returns
(same movies, same order, same fields, same JSON shape), with the least work Django can do for it: one query for
the page, one for its genres. The harness checks that both answers are equal before it measures anything.
"""

from base64 import b64encode

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from catalog.models import Movie

PAGE_SIZE = 20


def _relay_id(movie: Movie) -> str:
    # Relay's global id, as graphene encodes it: base64 of "Movie:<pk>".
    return b64encode(f"Movie:{movie.pk}".encode()).decode()


@require_GET
def baseline_movies(request):
    """The 20 most popular movies with their genres, as the GraphQL ``movies`` query's default page."""
    movies = Movie.objects.order_by("-popularity", "id").prefetch_related("genres")[:PAGE_SIZE]
    edges = [
        {
            "node": {
                "id": _relay_id(movie),
                "title": movie.title,
                "year": movie.year,
                "genres": [{"name": genre.name} for genre in movie.genres.all()],
            }
        }
        for movie in movies
    ]
    return JsonResponse({"data": {"movies": {"edges": edges}}})
