import json
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from graphql_relay import to_global_id

from recommender.selectors import user_recommendations_export
from users.models import Favorite, HiddenMovie, Rating, User, WatchEvent

USERS_PER_READ = 500


class Command(BaseCommand):
    help = (
        "Print users' recommendations from the score store, one JSON object per user and line: "
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
        parser.add_argument("--format", choices=["jsonl"], default="jsonl", help="Output format (jsonl).")

    def handle(self, *args, usernames, all, limit, format, **options):  # noqa: A002 - the options' names
        if bool(usernames) == bool(all):
            raise CommandError("give one or more usernames, or --all")
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        users = (users_with_interactions() if all else named_users(usernames)).iterator(chunk_size=USERS_PER_READ)
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
