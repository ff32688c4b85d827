"""The caller's library, loaded once per request for ``Movie.myRating``, ``isFavorite`` and ``inWatchlist``."""

from schema.core.auth import viewer
from schema.core.loaders import request_memo, request_memo_forget
from users import selectors
from users.selectors import UserLibrary

_MEMO_KEY = "viewer_library"
_NO_LIBRARY = UserLibrary()


def viewer_library(info) -> UserLibrary:
    """The caller's rated, favorite and watchlist movie ids (empty for anonymous callers): three queries per
    request, however many movies the response shows."""
    user = viewer(info)
    if user is None:
        return _NO_LIBRARY
    return request_memo(info, _MEMO_KEY, lambda: selectors.user_library(user=user))


def forget_viewer_library(info) -> None:
    """After a mutation changed the library: the next field that asks loads it again (a request may run several
    mutations, each returning movies)."""
    request_memo_forget(info, _MEMO_KEY)
