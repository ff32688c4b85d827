import graphene
from graphene import relay
from graphene_django import DjangoObjectType

from catalog import selectors
from catalog.models import Genre, Movie
from schema.catalog.loaders import (
    genre_movie_counts,
    movie_genres,
    movie_keywords,
    movie_tags,
    similar_movies,
    viewer_library_state,
    viewer_lists_holding,
)
from schema.catalog.people import MovieTmdbFields
from schema.core.deferred import then
from schema.core.pagination import CountableConnection, short_list_size


class GenreType(DjangoObjectType):
    """A movie genre, as MovieLens defines them. Anyone can fetch one with `node(id:)`."""

    name = graphene.String(required=True, description='Display name, e.g. "Sci-Fi".')
    slug = graphene.String(required=True, description='URL-safe name, e.g. "sci-fi"; accepted wherever a name is.')
    movie_count = graphene.Int(required=True, description="Number of movies in this genre.")

    # Fields whose values are the genre's columns alone, the same for everyone (schema/core/shared_renders.py).
    shared_fields = ("id", "name", "slug")

    class Meta:
        model = Genre
        name = "Genre"
        interfaces = (relay.Node,)
        fields = ("id", "name", "slug")

    @staticmethod
    def resolve_movie_count(genre, info):
        annotated = getattr(genre, "movie_count", None)
        if annotated is not None:
            return annotated
        return genre_movie_counts(info).load(genre.pk)


class MovieTagType(graphene.ObjectType):
    """A MovieLens tag on a movie: a word or phrase people gave it, and how many of them did."""

    name = graphene.String(required=True, description='The tag, spelled as most of its people did: "time travel".')
    count = graphene.Int(required=True, description="How many people tagged the movie so (case-insensitively).")

    class Meta:
        name = "MovieTag"


TAGS_DEFAULT = 10
# The model's fields the API shows as they are: the movie's columns and its genres.
MOVIE_MODEL_FIELDS = (
    "id",
    "movielens_id",
    "tmdb_id",
    "imdb_id",
    "title",
    "movielens_title",
    "year",
    "release_date",
    "overview",
    "runtime",
    "original_language",
    "genres",
    "rating_count",
    "rating_mean",
    "bayesian_rating",
    "popularity",
)


class MovieType(MovieTmdbFields, DjangoObjectType):
    """A movie of the catalog: MovieLens identity and statistics, enriched with TMDb metadata where known."""

    movielens_id = graphene.Int(required=True, description="MovieLens movieId.")
    tmdb_id = graphene.Int(description="The Movie Database (TMDb) id.")
    imdb_id = graphene.String(description='IMDb id, e.g. "tt0114709".')
    title = graphene.String(required=True, description='Title as people write it: "The Godfather".')
    movielens_title = graphene.String(
        required=True, description='Title exactly as MovieLens spells it: "Godfather, The (1972)".'
    )
    year = graphene.Int(description="Release year.")
    release_date = graphene.Date(description="Release date (from TMDb or MovieLens), when known.")
    overview = graphene.String(required=True, description="Plot summary from TMDb; empty when unknown.")
    runtime = graphene.Int(description="Running time in minutes.")
    original_language = graphene.String(description='ISO 639-1 code of the original language, e.g. "en".')
    genres = graphene.List(graphene.NonNull(GenreType), required=True, description="Genres, by name.")
    keywords = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description='TMDb keywords ("time travel", "heist"), alphabetically; empty when unknown.',
    )
    tags = graphene.List(
        graphene.NonNull(MovieTagType),
        required=True,
        first=graphene.Int(description=f"How many (0–100; default {TAGS_DEFAULT})."),
        description="MovieLens tags people gave the movie, most used first.",
    )
    rating_count = graphene.Int(required=True, description="Number of ratings on Nexus.")
    rating_mean = graphene.Float(description="Mean rating (0.5–5.0); null when nobody has rated it.")
    bayesian_rating = graphene.Float(
        required=True, description="Mean rating shrunk towards the catalog prior: fair across few and many votes."
    )
    popularity = graphene.Float(
        required=True, description="How many people liked it: ratingCount × bayesianRating / 5."
    )
    my_rating = graphene.Float(description="Your rating (0.5–5.0); null when you have not rated it or are anonymous.")
    is_favorite = graphene.Boolean(required=True, description="Whether it is among your favorites.")
    in_watchlist = graphene.Boolean(required=True, description="Whether it is on your watchlist.")
    # By name: the List type (schema/users) shows movies, so it is defined above this package.
    in_my_lists = graphene.List(
        graphene.NonNull("schema.users.list_types.ListType"),
        required=True,
        description="Your lists that hold it, most recently created first; empty when you are anonymous.",
    )
    similar = graphene.List(
        graphene.NonNull(lambda: MovieType),
        required=True,
        first=graphene.Int(description="How many (0–100; default 20)."),
        description="Movies like this one, most similar first (precomputed by the recommender).",
    )

    # Fields whose values come from the movie's card alone (its columns and genres: catalog/cards.py), the same for
    # everyone: a selection of only these is rendered once per card (schema/core/shared_renders.py). Never list a
    # field that reads the viewer or anything outside the card.
    shared_fields = (*MOVIE_MODEL_FIELDS, "poster_url", "backdrop_url", "tagline", "trailer_url", "certification")

    class Meta:
        model = Movie
        name = "Movie"
        interfaces = (relay.Node,)
        fields = MOVIE_MODEL_FIELDS

    @staticmethod
    def resolve_imdb_id(movie, info):
        return movie.imdb_id or None

    @staticmethod
    def resolve_original_language(movie, info):
        return movie.original_language or None

    # Per-movie loads go through the request's loaders (schema/catalog/loaders.py): batched over every movie of
    # the request, whichever list it is in.

    @staticmethod
    def resolve_genres(movie, info):
        return movie_genres(info).load(movie.pk)

    @staticmethod
    def resolve_keywords(movie, info):
        return movie_keywords(info).load(movie.pk)

    @staticmethod
    def resolve_tags(movie, info, first=None):
        return movie_tags(info, short_list_size(TAGS_DEFAULT if first is None else first)).load(movie.pk)

    @staticmethod
    def resolve_my_rating(movie, info):
        return then(viewer_library_state(info, movie.pk), lambda state: _float_or_none(state.score))

    @staticmethod
    def resolve_is_favorite(movie, info):
        return then(viewer_library_state(info, movie.pk), lambda state: state.favorite)

    @staticmethod
    def resolve_in_watchlist(movie, info):
        return then(viewer_library_state(info, movie.pk), lambda state: state.in_watchlist)

    @staticmethod
    def resolve_in_my_lists(movie, info):
        return viewer_lists_holding(info, movie.pk)

    @staticmethod
    def resolve_similar(movie, info, first=None):
        return similar_movies(info, short_list_size(first)).load(movie.pk)


def _float_or_none(value):
    return float(value) if value is not None else None


class MovieConnection(CountableConnection):
    """A page of movies."""

    class Meta:
        node = MovieType


class OrderDirection(graphene.Enum):
    """Sort direction."""

    ASC = "asc"
    DESC = "desc"

    @property
    def description(self):
        return "Ascending (smallest first)." if self == OrderDirection.ASC else "Descending (largest first)."


_ORDER_FIELD_DESCRIPTIONS = {
    selectors.MovieOrderField.POPULARITY: "How many people liked it (see Movie.popularity).",
    selectors.MovieOrderField.RATING: "Mean rating; combine with minVotes to skip movies with few ratings.",
    selectors.MovieOrderField.VOTES: "Number of ratings.",
    selectors.MovieOrderField.RELEASE_DATE: "Release date.",
    selectors.MovieOrderField.TITLE: "Title, alphabetically.",
    selectors.MovieOrderField.YEAR: "Release year.",
}


def _describe_order_field(value):
    if value is None:
        return "What to sort movies by. Missing values (no release date, no ratings) always sort last."
    return _ORDER_FIELD_DESCRIPTIONS[value]


MovieOrderField = graphene.Enum.from_enum(selectors.MovieOrderField, description=_describe_order_field)


class MovieOrder(graphene.InputObjectType):
    """Sort order for movie lists."""

    field = MovieOrderField(required=True, description="The value to sort by.")
    direction = OrderDirection(default_value=OrderDirection.DESC, description="Sort direction; DESC by default.")
