"""Each user's data version (``nexus.versions``), that the user's cached query responses are keyed by
(schema/core/response_cache.py).

Keyed by account id, which an access token carries, so that a request finds it without a database query. Bumped,
once committed, by whatever changes what the user's own queries return beyond the catalog and the recommender's
model (versioned on their own): every mutation the user sends (schema/views.py), a refresh of their
recommendations (recommender.services) and staff edits of the account or its library (users/admin.py).
"""

from nexus.versions import version_bump, version_bump_now


def user_data_version_key(user_id: int | str) -> str:
    return f"user:{user_id}:version"


def user_data_version_bump(*, user_id: int | str) -> None:
    """Bump the user's version after the current transaction commits (at once outside one)."""
    version_bump(user_data_version_key(user_id))


def user_data_version_bump_now(*, user_id: int | str) -> None:
    """Bump the user's version at once: for changes already committed."""
    version_bump_now(user_data_version_key(user_id))
