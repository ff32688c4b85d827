import unicodedata
from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

# Scores are half stars from 0.5 to 5.0.
RATING_SCORES = tuple(Decimal(half) / 2 for half in range(1, 11))


def username_key(username: str) -> str:
    """The one form in which usernames are compared — by registration, by login and by the login throttle.

    Unicode NFKC with full case folding (the NFKC_Casefold of Unicode identifiers): "Ada", "ADA" and fullwidth
    "ａｄａ" are one name. The database's own case mapping (UPPER/LOWER) is never used to match names: it
    differs from this one ("ı", "ß", "ſ"), and a second notion of "the same name" would let one account be
    reached under spellings that the throttle counts apart.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username.strip()).casefold())


class UsernameKeyField(models.TextField):
    """``username_key(username)``, set on every insert and save (bulk_create included), never by hand."""

    def pre_save(self, model_instance, add):
        value = username_key(model_instance.username)
        setattr(model_instance, self.attname, value)
        return value


class User(AbstractUser):
    """A Nexus account. Imported MovieLens users are real users too (``movielens-<id>``, unusable password)."""

    class RecommendationStrategy(models.TextChoices):
        """How the user's recommendations are ordered by default (``recommender.strategies.Strategy``)."""

        BALANCED = "balanced", "balanced"
        FAMILIAR = "familiar", "familiar"
        DISCOVERY = "discovery", "discovery"

        @classmethod
        def cleaned(cls, value: str) -> str:
            """``value`` when it is a strategy; otherwise a ValidationError on the profile field."""
            if value not in cls.values:
                error = ValidationError("Unknown strategy %(value)s.", code="invalid", params={"value": value})
                raise ValidationError({"recommendation_strategy": error})
            return value

    username_key = UsernameKeyField(unique=True, editable=False, help_text="The username as logins match it.")
    email = models.EmailField(blank=True)
    display_name = models.CharField(max_length=100, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    favorite_genres = models.ManyToManyField("catalog.Genre", blank=True, related_name="fans")
    movielens_id = models.PositiveIntegerField(null=True, blank=True, unique=True, help_text="MovieLens userId.")
    recommendation_strategy = models.CharField(
        max_length=16,
        choices=RecommendationStrategy.choices,
        default=RecommendationStrategy.BALANCED,
        help_text="How recommendations are ordered when a request does not say.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="user_email_ci_unique"),
        ]

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is not None and "username" in update_fields:
            update_fields = {*update_fields, "username_key"}  # the key follows a renamed account
        super().save(*args, update_fields=update_fields, **kwargs)


class Rating(models.Model):
    """One user's score for one movie, 0.5 to 5.0 in half steps."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ratings")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="ratings")
    score = models.DecimalField(max_digits=2, decimal_places=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="rating_one_per_user_movie"),
            models.CheckConstraint(condition=models.Q(score__in=RATING_SCORES), name="rating_score_half_steps"),
        ]
        indexes = [
            models.Index(fields=["user", "-updated_at"], name="rating_user_recent"),
            models.Index(fields=["-updated_at"], name="rating_recent"),
        ]

    def __str__(self):
        return f"{self.user_id} → {self.movie_id}: {self.score}"


class LibraryEntry(models.Model):
    """A movie a user put in one of their lists; at most once per list."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.user_id} → {self.movie_id}"


class Favorite(LibraryEntry):
    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="favorite_one_per_user_movie")]
        indexes = [models.Index(fields=["user", "-created_at"], name="favorite_user_recent")]


class WatchlistItem(LibraryEntry):
    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="watchlist_one_per_user_movie")]
        indexes = [models.Index(fields=["user", "-created_at"], name="watchlist_user_recent")]


class HiddenMovie(LibraryEntry):
    """ "Not interested": never recommend this movie to this user again."""

    class Meta(LibraryEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="hidden_one_per_user_movie")]


class WatchEvent(models.Model):
    """One viewing. Watching a movie again adds another event."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="watch_events")
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    watched_at = models.DateTimeField()

    class Meta:
        ordering = ["-watched_at", "-id"]
        indexes = [models.Index(fields=["user", "-watched_at"], name="watchevent_user_recent")]

    def __str__(self):
        return f"{self.user_id} watched {self.movie_id} at {self.watched_at:%Y-%m-%d %H:%M}"


class LibraryChange(models.Model):
    """The outbox of library events: a user whose library changed since the recommender last read it.

    Written in the same transaction as the change (a rating, a favorite, ...), so it exists exactly when the change
    does, whatever happens to the broker or Redis afterwards; one row per user however many changes pile up
    (``users.events``). The recommender's refresh deletes it when it has read the library that ``token`` stands
    for (``recommender.outbox``).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Replaced on every change: a refresh that read the library before a change cannot delete the change's row.
    token = models.UUIDField()
    requested_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"library of user {self.user_id} changed, refresh pending since {self.requested_at:%Y-%m-%d %H:%M:%S}"


class RefreshTokenFamily(models.Model):
    """One login session: the refresh tokens descended from one login by rotation (RFC 9700, section 4.14.2).

    Using a token that was already exchanged means that two parties hold the session, one of them a thief, and
    no one can tell which: the whole family is revoked. A revoked family accepts none of its tokens.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "refresh token families"

    def __str__(self):
        return f"{self.user_id}: session {self.pk}"


class RefreshTokenFamilyMember(models.Model):
    """Which family a refresh token (graphql_jwt's model, which has no room for it) belongs to."""

    token = models.OneToOneField(
        "refresh_token.RefreshToken", on_delete=models.CASCADE, primary_key=True, related_name="family_membership"
    )
    family = models.ForeignKey(RefreshTokenFamily, on_delete=models.CASCADE, related_name="members")

    def __str__(self):
        return f"{self.token_id} in {self.family_id}"


class ImportJob(models.Model):
    """One upload of a library exported elsewhere (Letterboxd, IMDb, Trakt) or by Nexus, and how its import went.

    The mutation stores the file here and queues the import; the worker (importers.library) reads it, writes the
    library in one transaction, and keeps the counts and the rows it could not match. The file is dropped once
    the job has finished. Only its owner ever sees a job (users.library_import.import_job_get).
    """

    class Source(models.TextChoices):
        LETTERBOXD = "letterboxd"
        IMDB = "imdb"
        TRAKT = "trakt"
        NEXUS = "nexus"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True)
    content = models.BinaryField(blank=True, help_text="The uploaded file, until the job finishes.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    rows_read = models.PositiveIntegerField(default=0)
    rows_matched = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_unmatched = models.PositiveIntegerField(default=0)
    unmatched = models.JSONField(default=list, blank=True, help_text="The rows no movie matched, with the reason.")
    error_line = models.PositiveIntegerField(null=True, blank=True, help_text="Line of the file a failure is about.")
    error = models.TextField(blank=True, help_text="Why the job failed; nothing was imported then.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="importjob_user_recent")]

    def __str__(self):
        return f"{self.source} import {self.pk} of user {self.user_id}: {self.status}"


# Custom lists live in a module of their own; imported here so that Django finds their models.
from users.custom_list_models import CustomList, CustomListEntry  # noqa: E402, F401
