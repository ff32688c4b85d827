import json
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from graphql_relay import to_global_id

from recommender.selectors import recommendation_list, user_recommendations_export, user_seen_movie_ids
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent

USERS_PER_READ = 500


class Command(BaseCommand):
    help = (
        "Print users' recommendations from the score store: a table per user (rank, title (year), score, source, "
        "reason), or with --format jsonl one JSON object per user and line: "
        '{"username", "movielensUserId", "items": [{"movielensId", "id", "score", "source"}]}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", metavar="USERNAME", help="Users to recommend for.")
        parser.add_argument(
            "--all",
            action="store_true",
            help="Every user with ratings, favorites, viewings or hidden movies.",
        )
        parser.add_argument("--limit", type=int, default=10, help="Recommendations per user (default 10).")
        parser.add_argument(
            "--format",
            choices=["table", "jsonl"],
            default="table",
            help="table (for people, the default) or jsonl (for machines: one JSON object per user).",
        )

    def handle(self, *args, usernames, all, limit, format, **options):  # noqa: A002 - the options' names
        if bool(usernames) == bool(all):
            raise CommandError("give one or more usernames, or --all")
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        users = (users_with_interactions() if all else named_users(usernames)).iterator(chunk_size=USERS_PER_READ)
        if format == "table":
            for user in users:
                self.stdout.write(as_table(user, limit=limit))
            return
        # Streams: a chunk of users at a time is read from the store and printed.
        while chunk := list(islice(users, USERS_PER_READ)):
            for user, items in user_recommendations_export(users=chunk, limit=limit):
                self.stdout.write(json.dumps(as_json(user, items)))


def named_users(usernames: list[str]):
    wanted = {name.lower() for name in usernames}
    users = User.objects.annotate(lowered=Lower("username")).filter(lowered__in=wanted)
    unknown = wanted - set(users.values_list("lowered", flat=True))
    if unknown:
        raise CommandError(f"no such user: {', '.join(sorted(unknown))}")
    return users.order_by("pk")


def users_with_interactions():
    def has(model) -> Exists:
        return Exists(model.objects.filter(user=OuterRef("pk")))

    return User.objects.filter(Q(has(Rating)) | Q(has(Favorite)) | Q(has(WatchEvent)) | Q(has(HiddenMovie))).order_by(
        "pk"
    )


TITLE_WIDTH = 48


def as_table(user: User, *, limit: int) -> str:
    """One user's list as the API serves it (titles and reasons), aligned for a terminal."""
    picked = recommendation_list(user=user, first=limit, seen_movie_ids=user_seen_movie_ids(user=user))
    lines = [f"{user.username}: {len(picked)} recommendation{'s' if len(picked) != 1 else ''}"]
    if picked:
        lines.append(f"{'#':>3}  {'title (year)':<{TITLE_WIDTH}}  {'score':>7}  {'source':<13}  reason")
    for rank, item in enumerate(picked, start=1):
        title = str(item.movie)  # "Title (year)"
        if len(title) > TITLE_WIDTH:
            title = title[: TITLE_WIDTH - 1] + "…"
        lines.append(f"{rank:>3}  {title:<{TITLE_WIDTH}}  {item.score:>7.3f}  {item.source.label:<13}  {item.reason}")
    return "\n".join(lines) + "\n"


def as_json(user: User, items) -> dict:
    return {
        "username": user.username,
        "movielensUserId": user.movielens_id,
        "items": [
            {
                "movielensId": item.movielens_id,
                "id": to_global_id("Movie", item.movie_id),
                "score": round(item.score, 6),
                "source": item.source.label,
            }
            for item in items
        ],
    }
