"""The viewer of a resolver: the user the request runs as (schema/pipeline/identity.py decides who that is)."""

from schema.core.errors import unauthenticated


def viewer(info):
    """The authenticated user making the request, or None for an anonymous caller."""
    user = getattr(info.context, "user", None)
    return user if user is not None and user.is_authenticated else None


def require_viewer(info):
    user = viewer(info)
    if user is None:
        raise unauthenticated()
    return user
