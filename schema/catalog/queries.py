import graphene

from catalog import people, selectors
from catalog.cards import movies_from_cards
from catalog.lists import MovieList
from schema.catalog.people import PersonType
from schema.catalog.types import GenreType, MovieConnection, MovieOrder, MovieType, OrderDirection
from schema.core.errors import refused_as_bad_input
from schema.core.ids import parse_global_id
from schema.core.pagination import SHORT_LIST_DEFAULT, SHORT_LIST_MAX, connection_args, paginate, short_list_size


class CatalogQueries(graphene.ObjectType):
    movie = graphene.Field(
        MovieType,
        id=graphene.ID(description="Global id."),
        movielens_id=graphene.Int(description="MovieLens movieId."),
        tmdb_id=graphene.Int(description="TMDb id."),
        imdb_id=graphene.String(description='IMDb id, with or without "tt".'),
        description="One movie, by exactly one of its ids; null when no movie has it.",
    )
    movies = graphene.Field(
        graphene.NonNull(MovieConnection),
        search=graphene.String(
            description=(
                "Words from the title or plot, or a keyword or tag; typo tolerant. Without orderBy, best matches "
                "come first, title matches before all others."
            )
        ),
        genres=graphene.List(graphene.NonNull(graphene.String), description="Movies in all of these genres."),
        any_genres=graphene.List(graphene.NonNull(graphene.String), description="Movies in any of these genres."),
        year_from=graphene.Int(description="Released in this year or later."),
        year_to=graphene.Int(description="Released in this year or earlier."),
        released_after=graphene.Date(description="Released on this date or later."),
        released_before=graphene.Date(description="Released on this date or earlier."),
        min_rating=graphene.Float(description="Mean rating at least this (0.5–5.0)."),
        min_votes=graphene.Int(description="At least this many ratings."),
        runtime_min=graphene.Int(description="Runs at least this many minutes."),
        runtime_max=graphene.Int(description="Runs at most this many minutes."),
        keywords=graphene.List(
            graphene.NonNull(graphene.String),
            description='Movies with all of these TMDb keywords (case-insensitive), e.g. ["time travel"].',
        ),
        tags=graphene.List(
            graphene.NonNull(graphene.String),
            description="Movies someone tagged with each of these MovieLens tags (case-insensitive).",
        ),
        person=graphene.ID(description="Movies this person (a Person id) acted in or directed."),
        order_by=MovieOrder(description="Sort order; popularity, descending, by default."),
        **connection_args(),
        description="Browse and search the catalog, a page at a time (at most 100 per page).",
    )
    person = graphene.Field(
        PersonType,
        id=graphene.ID(required=True, description="The person's global id."),
        description="Someone in the cast or crew of movies synced from TMDb; null when no one has this id.",
    )
    genres = graphene.List(
        graphene.NonNull(GenreType), required=True, description="Every genre, by name, with its movie count."
    )
    popular = graphene.List(
        graphene.NonNull(MovieType),
        required=True,
        first=graphene.Int(description=f"How many (0–{SHORT_LIST_MAX}; default {SHORT_LIST_DEFAULT})."),
        genre=graphene.String(description="Only this genre (name or slug)."),
        description="The most popular movies, optionally within one genre.",
    )

    @staticmethod
    def resolve_movie(root, info, id=None, movielens_id=None, tmdb_id=None, imdb_id=None):  # noqa: A002
        with refused_as_bad_input():
            pk = parse_global_id(id, "Movie", field="id") if id is not None else None
            return selectors.movie_get(pk=pk, movielens_id=movielens_id, tmdb_id=tmdb_id, imdb_id=imdb_id)

    @staticmethod
    def resolve_movies(
        root, info, search=None, order_by=None, first=None, after=None, last=None, before=None, **filters
    ):
        with refused_as_bad_input():
            if filters.get("person") is not None:
                filters["person"] = parse_global_id(filters["person"], "Person", field="person")
            movies = MovieList(
                filters=filters,
                search=search,
                order=order_by.field if order_by else None,
                descending=order_by is None or order_by.direction != OrderDirection.ASC,
            )
            page = paginate(movies, MovieConnection, first=first, after=after, last=last, before=before)
        return page

    @staticmethod
    def resolve_person(root, info, id):  # noqa: A002
        with refused_as_bad_input():
            pk = parse_global_id(id, "Person", field="id")
        return people.person_get(pk=pk)

    @staticmethod
    def resolve_genres(root, info):
        return selectors.genre_list()

    @staticmethod
    def resolve_popular(root, info, first=None, genre=None):
        size = short_list_size(first)
        with refused_as_bad_input():
            movies = movies_from_cards(selectors.popular_movies(genre=genre), limit=size)
        return movies
