import graphene
from django.core.exceptions import ValidationError
from graphql_relay import to_global_id

from catalog.models import Movie
from catalog.selectors import movie_get, movie_to_rate
from schema.catalog.loaders import viewer_library_forget
from schema.catalog.types import MovieType
from schema.core.ids import parse_global_id
from schema.core.mutations import BaseMutation
from schema.core.scalars import DateTime
from schema.users import auth
from schema.users.types import RatingType, RecommendationStrategy, UserType, WatchEventType
from users import services

NEW_ACCESS_HELP = f"{auth.ACCESS_HELP} Null when there are errors."
NEW_REFRESH_HELP = f"{auth.REFRESH_HELP} Null when there are errors."
MOVIE_ID_HELP = "Global id of the movie (Movie.id)."


# --- Account ------------------------------------------------------------------------------------------------------


class Register(BaseMutation):
    """Create an account and log in to it. Username and email are unique regardless of case; the password must
    pass the password policy (long enough, not common, not all digits, not like the username or email)."""

    user = graphene.Field(UserType, description="The new account; null when there are errors.")
    token = graphene.String(description=NEW_ACCESS_HELP)
    refresh_token = graphene.String(description=NEW_REFRESH_HELP)

    class Arguments:
        username = graphene.String(required=True, description="Letters, digits and @ . + - _; at most 150.")
        email = graphene.String(required=True, description="Email address.")
        password = graphene.String(required=True, description="Password.")
        favorite_genres = graphene.List(
            graphene.NonNull(graphene.String), description="Genres you like (names or slugs), for recommendations."
        )

    @classmethod
    def perform(cls, info, username, email, password, favorite_genres=None):
        user = services.user_register(
            username=username, email=email, password=password, favorite_genres=favorite_genres
        )
        tokens = auth.issue_tokens(info, user, services.refresh_token_create(user=user))
        return {"user": user, "token": tokens["token"], "refresh_token": tokens["refresh_token"]}


class UpdateProfile(BaseMutation):
    """Change your profile. Arguments left out stay as they are."""

    user = graphene.Field(UserType, description="Your account as it is now; null when there are errors.")
    login_required = True

    class Arguments:
        display_name = graphene.String(
            description=f"Name shown to people (at most {services.DISPLAY_NAME_MAX_LENGTH} characters)."
        )
        bio = graphene.String(description=f"A few words about you (at most {services.BIO_MAX_LENGTH} characters).")
        email = graphene.String(description="New email address; it cannot be removed.")
        favorite_genres = graphene.List(
            graphene.NonNull(graphene.String), description="Genres you like (names or slugs); [] clears them."
        )
        recommendation_strategy = graphene.Argument(
            RecommendationStrategy, description="How your recommendations are ordered when a request does not say."
        )

    @classmethod
    def perform(cls, info, **changes):
        if changes.get("recommendation_strategy") is not None:  # graphene gives the enum member
            changes["recommendation_strategy"] = getattr(
                changes["recommendation_strategy"], "value", changes["recommendation_strategy"]
            )
        return {"user": services.user_profile_update(user=info.context.user, **changes)}


class ChangePassword(BaseMutation):
    """Change your password. Logs out every session (all refresh tokens are revoked) and returns a new pair of
    tokens for this one."""

    user = graphene.Field(UserType, description="Your account; null when there are errors.")
    token = graphene.String(description=NEW_ACCESS_HELP)
    refresh_token = graphene.String(description=NEW_REFRESH_HELP)
    login_required = True

    class Arguments:
        old_password = graphene.String(required=True, description="Your current password.")
        new_password = graphene.String(required=True, description="The new password (same rules as register).")

    @classmethod
    def perform(cls, info, old_password, new_password):
        user = info.context.user
        services.user_password_change(user=user, old_password=old_password, new_password=new_password)
        tokens = auth.issue_tokens(info, user, services.refresh_token_create(user=user))
        return {"user": user, "token": tokens["token"], "refresh_token": tokens["refresh_token"]}


class DeleteAccount(BaseMutation):
    """Delete your account for good: profile, ratings, lists, history and sessions. Movie statistics no longer
    count your ratings."""

    deleted_username = graphene.String(description="The username of the deleted account; null when there are errors.")
    deleted_user_id = graphene.ID(
        description="The id (User.id) the deleted account had, to evict it from a client cache; null when there "
        "are errors."
    )
    login_required = True

    class Arguments:
        password = graphene.String(required=True, description="Your password, to confirm.")

    @classmethod
    def perform(cls, info, password):
        user = info.context.user
        username, user_id = user.username, to_global_id(UserType._meta.name, user.pk)
        services.user_account_delete(user=user, password=password)
        auth.end_account_session(info)
        return {"deleted_username": username, "deleted_user_id": user_id}


# --- Library ------------------------------------------------------------------------------------------------------


def movie_argument(movie_id: str, *, to_rate: bool = False) -> Movie:
    pk = parse_global_id(movie_id, "Movie", field="movie_id")
    movie = movie_to_rate(pk) if to_rate else movie_get(pk=pk)
    if movie is None:
        raise ValidationError(
            {"movie_id": ValidationError("No movie has the id %(id)s.", code="not_found", params={"id": movie_id})}
        )
    return movie


class LibraryMutation(BaseMutation):
    """A change to the caller's library; Movie.myRating/isFavorite/inWatchlist in its payload show the result."""

    login_required = True

    class Meta:
        abstract = True

    @classmethod
    def mutate(cls, root, info, **arguments):
        payload = super().mutate(root, info, **arguments)
        viewer_library_forget(info)
        return payload


class MovieMutation(LibraryMutation):
    """Changes how the caller's library holds one movie, with ``change(user=..., movie=...)``."""

    movie = graphene.Field(MovieType, description="The movie, as you now see it; null when there are errors.")

    class Meta:
        abstract = True

    class Arguments:
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)

    @classmethod
    def perform(cls, info, movie_id):
        movie = movie_argument(movie_id)
        cls.change(user=info.context.user, movie=movie)
        return {"movie": movie}


class AddFavorite(MovieMutation):
    """Add a movie to your favorites. Adding it again changes nothing."""

    change = staticmethod(services.favorite_add)


class RemoveFavorite(MovieMutation):
    """Remove a movie from your favorites (nothing happens if it is not one)."""

    change = staticmethod(services.favorite_remove)


class AddToWatchlist(MovieMutation):
    """Put a movie on your watchlist. Adding it again changes nothing."""

    change = staticmethod(services.watchlist_add)


class RemoveFromWatchlist(MovieMutation):
    """Take a movie off your watchlist (nothing happens if it is not on it)."""

    change = staticmethod(services.watchlist_remove)


class HideMovie(MovieMutation):
    """Not interested: never recommend this movie to you again. Hiding it again changes nothing."""

    change = staticmethod(services.movie_hide)


class RateMovie(LibraryMutation):
    """Rate a movie, or change your rating of it: you have one rating per movie."""

    rating = graphene.Field(RatingType, description="Your rating; null when there are errors.")

    class Arguments:
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)
        score = graphene.Float(required=True, description="0.5 to 5.0, in steps of 0.5.")

    @classmethod
    def perform(cls, info, movie_id, score):
        movie = movie_argument(movie_id, to_rate=True)
        return {"rating": services.rating_upsert(user=info.context.user, movie=movie, score=score)}


class DeleteRating(MovieMutation):
    """Remove your rating of a movie (nothing happens if you have not rated it)."""

    deleted_rating_id = graphene.ID(
        description="The id (Rating.id) the removed rating had, to evict it from a client cache; null when you had "
        "not rated the movie, or when there are errors."
    )

    @classmethod
    def perform(cls, info, movie_id):
        movie = movie_argument(movie_id, to_rate=True)
        rating_pk = services.rating_delete(user=info.context.user, movie=movie)
        rating_id = to_global_id(RatingType._meta.name, rating_pk) if rating_pk is not None else None
        return {"movie": movie, "deleted_rating_id": rating_id}


class MarkWatched(LibraryMutation):
    """Add a viewing to your history. Watching a movie again adds another."""

    event = graphene.Field(WatchEventType, description="The viewing recorded; null when there are errors.")

    class Arguments:
        movie_id = graphene.ID(required=True, description=MOVIE_ID_HELP)
        watched_at = DateTime(
            description="When you watched it (ISO 8601, UTC unless an offset is given); now when left out. Not in the "
            "future."
        )

    @classmethod
    def perform(cls, info, movie_id, watched_at=None):
        event = services.watch_event_create(
            user=info.context.user, movie=movie_argument(movie_id), watched_at=watched_at
        )
        return {"event": event}


class UserMutations(graphene.ObjectType):
    register = Register.Field()
    token_auth = auth.TokenAuth.Field()
    verify_token = auth.VerifyToken.Field()
    refresh_token = auth.RefreshToken.Field()
    revoke_token = auth.RevokeToken.Field()
    update_profile = UpdateProfile.Field()
    change_password = ChangePassword.Field()
    delete_account = DeleteAccount.Field()
    rate_movie = RateMovie.Field()
    delete_rating = DeleteRating.Field()
    add_favorite = AddFavorite.Field()
    remove_favorite = RemoveFavorite.Field()
    add_to_watchlist = AddToWatchlist.Field()
    remove_from_watchlist = RemoveFromWatchlist.Field()
    mark_watched = MarkWatched.Field()
    hide_movie = HideMovie.Field()
