from schema.core.auth import require_viewer
from schema.core.errors import permission_denied


def require_staff(info):
    """The staff member making the request; anyone else gets an UNAUTHENTICATED or FORBIDDEN error."""
    user = require_viewer(info)
    if not user.is_staff:
        raise permission_denied("Only staff can see or change the recommender.")
    return user
