"""Each user's data version (``nexus.versions``), that the user's cached query responses are keyed by
(schema/pipeline/response_cache.py).

Keyed by account id, which an access token carries, so that a request finds it without a database query. Bumped,
once committed, by whatever changes what the user's own queries return beyond the catalog and the recommender's
model (versioned on their own): writes to the account or its library (``rows_changed``, by the services and the
admin, keyed as ``library_rows_declare`` says) and every mutation the user sends (schema/pipeline/view.py). A
refresh of their recommendations bumps a counter of the list's own (``recommender.store.user_list_version_key``):
only the answers that show the list depend on it. The account row has a version of its own too
(``account_version_key``), that this process' copy of the account is keyed by.
"""

import copy

from nexus.versions import rows_shown_by, version_bump, viewer_copy
from users.selectors import user_get


def user_data_version_key(user_id: int | str) -> str:
    return f"user:{user_id}:version"


def account_version_key(user_id: int | str) -> str:
    """The counter that only writes to the account row bump (``rows_changed(User, ...)``): this process' copy of
    the account is keyed by it, so that a user's library changes do not make every next request read it again."""
    return f"user:{user_id}:account-version"


def user_data_version_bump(*, user_id: int | str) -> None:
    """Bump the user's version after the current transaction commits (at once outside one)."""
    version_bump(user_data_version_key(user_id))


def account_get(*, user_id: int):
    """The account ``user_id`` (None when there is none), as of its account version: read from PostgreSQL once
    per version in this process (``nexus.versions.viewer_copy``; every write to the account bumps that version:
    ``rows_changed``, by the services and the admin), a copy of that for each request (requests may annotate
    theirs). The request reads the version in the rate limit's round trip, with its data version."""
    key = account_version_key(user_id)
    account = viewer_copy(str(user_id), "account", lambda: user_get(pk=user_id), own=False, shared=False, also=[key])
    return copy.copy(account) if account is not None else None


def library_rows_declare() -> None:
    """An account and its library show only in its owner's answers: their rows key on the owner's version. Login
    sessions, the outbox of library changes and staff permissions show in no cached answer."""
    from django.contrib.auth.models import Group, Permission
    from graphql_jwt.refresh_token.utils import get_refresh_token_model

    from users.models import (
        Favorite,
        HiddenMovie,
        ImportJob,
        LibraryChange,
        Rating,
        RefreshTokenFamily,
        RefreshTokenFamilyMember,
        User,
        WatchEvent,
        WatchlistItem,
    )

    rows_shown_by(
        User,
        lambda users: {key for user in users for key in (user_data_version_key(user.pk), account_version_key(user.pk))},
    )
    for model in (Rating, Favorite, WatchlistItem, HiddenMovie, WatchEvent, ImportJob, User.favorite_genres.through):
        rows_shown_by(model, lambda rows: {user_data_version_key(row.user_id) for row in rows})
    for model in (RefreshTokenFamily, RefreshTokenFamilyMember, get_refresh_token_model(), LibraryChange):
        rows_shown_by(model, None)
    for model in (Group, Permission, User.groups.through, User.user_permissions.through):
        rows_shown_by(model, None)  # staff permissions
