"""TMDb's side of a movie in the API: images, cast, directors, trailer and certification, and the people in them."""

import graphene
from graphene import relay
from graphene_django import DjangoObjectType

from catalog.models import Person
from catalog.tmdb.images import image_url
from schema.catalog.loaders import movie_credits, person_movies
from schema.core.deferred import then
from schema.core.pagination import short_list_size

CAST_DEFAULT = 10
PROFILE_SIZE = "w185"
YOUTUBE_WATCH = "https://www.youtube.com/watch?v="


class PosterSize(graphene.Enum):
    """Width of a poster image, as TMDb serves them."""

    W92 = "w92"
    W154 = "w154"
    W185 = "w185"
    W342 = "w342"
    W500 = "w500"
    W780 = "w780"
    ORIGINAL = "original"

    @property
    def description(self):
        return "As uploaded (large)." if self == PosterSize.ORIGINAL else f"{self.value[1:]} pixels wide."


class BackdropSize(graphene.Enum):
    """Width of a backdrop image, as TMDb serves them."""

    W300 = "w300"
    W780 = "w780"
    W1280 = "w1280"
    ORIGINAL = "original"

    @property
    def description(self):
        return "As uploaded (large)." if self == BackdropSize.ORIGINAL else f"{self.value[1:]} pixels wide."


class PersonType(DjangoObjectType):
    """Someone in a movie's cast or crew (from TMDb). Anyone can fetch one with `person(id:)` or `node(id:)`."""

    name = graphene.String(required=True, description="Name, as TMDb credits it.")
    tmdb_id = graphene.Int(required=True, description="The person's TMDb id.")
    profile_url = graphene.String(description="Profile picture URL (185 pixels wide), when TMDb has one.")
    movies = graphene.List(
        graphene.NonNull("schema.catalog.types.MovieType"),
        required=True,
        first=graphene.Int(description="How many (0–100; default 20)."),
        description="Movies they acted in or directed, most popular first.",
    )

    class Meta:
        model = Person
        name = "Person"
        interfaces = (relay.Node,)
        fields = ("id", "name", "tmdb_id")

    @staticmethod
    def resolve_profile_url(person, info):
        return image_url(person.profile_path, PROFILE_SIZE)

    @staticmethod
    def resolve_movies(person, info, first=None):
        return person_movies(info, short_list_size(first)).load(person.pk)


class CastMemberType(graphene.ObjectType):
    """A role in a movie's cast, in billing order."""

    name = graphene.String(required=True, description="The actor's name.")
    character = graphene.String(required=True, description="The character they play; empty when unknown.")
    profile_url = graphene.String(description="The actor's profile picture URL (185 pixels wide), when known.")
    person = graphene.Field(graphene.NonNull(PersonType), description="The actor.")

    class Meta:
        name = "CastMember"

    @staticmethod
    def resolve_name(credit, info):
        return credit.person.name

    @staticmethod
    def resolve_profile_url(credit, info):
        return image_url(credit.person.profile_path, PROFILE_SIZE)

    @staticmethod
    def resolve_person(credit, info):
        return credit.person


class MovieTmdbFields(graphene.ObjectType):
    """The fields of Movie that TMDb's API fills (manage.py sync_tmdb); mixed into MovieType."""

    poster_url = graphene.String(
        size=PosterSize(default_value=PosterSize.W342.value, description="Image width; W342 by default."),
        description="Poster image URL (TMDb), when known.",
    )
    backdrop_url = graphene.String(
        size=BackdropSize(default_value=BackdropSize.W780.value, description="Image width; W780 by default."),
        description="Backdrop (wide still) image URL (TMDb), when known.",
    )
    tagline = graphene.String(description="Tagline, when TMDb has one.")
    cast = graphene.List(
        graphene.NonNull(CastMemberType),
        required=True,
        first=graphene.Int(description=f"How many (0–100; default {CAST_DEFAULT})."),
        description="Top-billed cast, in billing order; empty until synced from TMDb.",
    )
    directors = graphene.List(
        graphene.NonNull(PersonType), required=True, description="Directors; empty until synced from TMDb."
    )
    trailer_url = graphene.String(description="YouTube URL of the official trailer, when known.")
    certification = graphene.String(
        description="Age rating (e.g. PG-13) in the configured country (TMDB_CERTIFICATION_COUNTRY), when known."
    )

    @staticmethod
    def resolve_poster_url(movie, info, size=PosterSize.W342.value):
        return image_url(movie.poster_path, _size_value(size))

    @staticmethod
    def resolve_backdrop_url(movie, info, size=BackdropSize.W780.value):
        return image_url(movie.backdrop_path, _size_value(size))

    @staticmethod
    def resolve_tagline(movie, info):
        return movie.tagline or None

    @staticmethod
    def resolve_cast(movie, info, first=None):
        size = short_list_size(CAST_DEFAULT if first is None else first)
        return then(
            movie_credits(info).load(movie.pk),
            lambda credits: [credit for credit in credits if credit.kind == "cast"][:size],
        )

    @staticmethod
    def resolve_directors(movie, info):
        return then(
            movie_credits(info).load(movie.pk),
            lambda credits: [credit.person for credit in credits if credit.kind == "director"],
        )

    @staticmethod
    def resolve_trailer_url(movie, info):
        return f"{YOUTUBE_WATCH}{movie.trailer_key}" if movie.trailer_key else None

    @staticmethod
    def resolve_certification(movie, info):
        return movie.certification or None


def _size_value(size) -> str:
    return getattr(size, "value", size)
