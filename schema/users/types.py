import graphene
from graphene import relay
from graphene_django import DjangoObjectType

from schema.catalog.types import GenreType, MovieType
from schema.core.auth import viewer
from schema.core.errors import permission_denied
from schema.core.pagination import CountableConnection, connection_args, paginate
from schema.core.scalars import DateTime
from schema.users.library import LibraryExportField
from schema.users.list_types import lists_field, lists_page
from users import selectors
from users.models import Rating, User, WatchEvent

_STRATEGY_DESCRIPTIONS = {
    User.RecommendationStrategy.BALANCED: "The production order: what fits you best, with some variety of genres.",
    User.RecommendationStrategy.FAMILIAR: "Well-known, well-liked movies the recommender is most sure of for you.",
    User.RecommendationStrategy.DISCOVERY: "Fewer famous titles: the long tail of what fits you, more varied.",
}
RecommendationStrategy = graphene.Enum.from_enum(
    User.RecommendationStrategy,
    name="RecommendationStrategy",
    description=lambda value: _STRATEGY_DESCRIPTIONS[value] if value else "How recommendations are ordered.",
)


class RatingType(DjangoObjectType):
    """Your rating of a movie: one per movie, so re-rating changes this object (same id). `node(id:)` fetches
    only your own ratings: for anyone else's id it answers null, as for an id no rating has."""

    score = graphene.Float(required=True, description="0.5 to 5.0, in half steps.")
    movie = graphene.Field(graphene.NonNull(MovieType), description="The movie rated.")
    created_at = DateTime(required=True, description="When you first rated the movie.")
    updated_at = DateTime(required=True, description="When you last changed the score.")

    class Meta:
        model = Rating
        name = "Rating"
        interfaces = (relay.Node,)
        fields = ("id", "score", "movie", "created_at", "updated_at")

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        return _own_row(selectors.user_ratings, info, id)

    @staticmethod
    def resolve_score(rating, info):
        return float(rating.score)


class WatchEventType(DjangoObjectType):
    """One viewing of a movie in your history. `node(id:)` fetches only your own viewings: for anyone else's id
    it answers null, as for an id no viewing has."""

    movie = graphene.Field(graphene.NonNull(MovieType), description="The movie watched.")
    watched_at = DateTime(required=True, description="When you watched it.")

    class Meta:
        model = WatchEvent
        name = "WatchEvent"
        interfaces = (relay.Node,)
        fields = ("id", "movie", "watched_at")

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        return _own_row(selectors.user_history, info, id)


class RatingConnection(CountableConnection):
    """A page of your ratings, most recently rated or changed first."""

    class Meta:
        node = RatingType


class WatchEventConnection(CountableConnection):
    """A page of your viewing history, most recent first."""

    class Meta:
        node = WatchEventType


class LibraryMovieConnection(CountableConnection):
    """A page of movies from one of your lists (favorites, watchlist), most recently added first."""

    class Meta:
        node = MovieType

    class Edge:
        added_at = DateTime(required=True, description="When you added the movie to the list.")


class UserType(LibraryExportField, DjangoObjectType):
    """Your account: profile and library. Only ever your own: no query returns another user, and `node(id:)`
    answers null for any id but your own account's."""

    username = graphene.String(required=True, description="Your login name, unique regardless of case.")
    email = graphene.String(description="Your email address.")
    display_name = graphene.String(required=True, description="The name shown to people; may be empty.")
    bio = graphene.String(required=True, description="A few words about you; may be empty.")
    favorite_genres = graphene.List(
        graphene.NonNull(GenreType), required=True, description="Genres you like, for recommendations."
    )
    ratings = graphene.Field(
        graphene.NonNull(RatingConnection), **connection_args(), description="Your ratings, newest first."
    )
    favorites = graphene.Field(
        graphene.NonNull(LibraryMovieConnection),
        **connection_args(),
        description="Your favorite movies, most recently added first.",
    )
    watchlist = graphene.Field(
        graphene.NonNull(LibraryMovieConnection),
        **connection_args(),
        description="Movies you want to watch, most recently added first.",
    )
    recommendation_strategy = graphene.Field(
        graphene.NonNull(RecommendationStrategy),
        description="How your recommendations are ordered when a request does not choose (updateProfile).",
    )
    history = graphene.Field(
        graphene.NonNull(WatchEventConnection),
        **connection_args(),
        description="Your viewings, most recent first.",
    )
    lists = lists_field()

    class Meta:
        model = User
        name = "User"
        interfaces = (relay.Node,)
        fields = ("id", "username", "email", "display_name", "bio", "favorite_genres")

    @classmethod
    def get_node(cls, info, id):  # noqa: A002 - graphene's name
        caller = viewer(info)
        return caller if caller is not None and caller.pk == id else None

    @staticmethod
    def resolve_email(user, info):
        return _own(user, info).email or None

    @staticmethod
    def resolve_recommendation_strategy(user, info):
        return _own(user, info).recommendation_strategy

    @staticmethod
    def resolve_favorite_genres(user, info):
        return _own(user, info).favorite_genres.all()

    @staticmethod
    def resolve_ratings(user, info, **page):
        return paginate(selectors.user_ratings(user=_own(user, info)), RatingConnection, **page)

    @staticmethod
    def resolve_favorites(user, info, **page):
        favorites = selectors.user_favorites(user=_own(user, info))
        return paginate(favorites, LibraryMovieConnection, **page, edge_fields=_list_edge)

    @staticmethod
    def resolve_watchlist(user, info, **page):
        watchlist = selectors.user_watchlist(user=_own(user, info))
        return paginate(watchlist, LibraryMovieConnection, **page, edge_fields=_list_edge)

    @staticmethod
    def resolve_history(user, info, **page):
        return paginate(selectors.user_history(user=_own(user, info)), WatchEventConnection, **page)

    @staticmethod
    def resolve_lists(user, info, **page):
        return lists_page(_own(user, info), **page)


def _own(user: User, info) -> User:
    """Private fields resolve for the caller's own account only (a second line of defence: no field returns
    another user in the first place)."""
    caller = viewer(info)
    if caller is None or caller.pk != user.pk:
        raise permission_denied("You can only see your own account.")
    return user


def _own_row(rows_of, info, pk: int):
    """The caller's own library row with this key (``rows_of(user=...)`` lists a user's rows), or None: for
    anyone else, someone else's row is exactly as absent as a key no row has."""
    caller = viewer(info)
    return rows_of(user=caller).filter(pk=pk).first() if caller is not None else None


def _list_edge(entry) -> dict:
    return {"node": entry.movie, "added_at": entry.created_at}
