"""Writes that must outlast a rolled-back transaction.

A GraphQL mutation runs in a transaction that is rolled back when it answers with errors (settings
``GRAPHENE["ATOMIC_MUTATIONS"]``). Some writes are the very reason for such an answer and must stay: refusing a
stolen refresh token revokes its whole family (users.services), and the next use of any token of it must find it
revoked.

``write_despite_rollback(write)`` runs an idempotent ``write`` at once and, when a request is in a transaction,
once more after the request's view has returned (``DurableWritesMiddleware``): its transactions are over by then,
committed or rolled back.
"""

import contextvars
from collections.abc import Callable

from django.db import transaction

_pending: contextvars.ContextVar[list[Callable[[], object]] | None] = contextvars.ContextVar(
    "nexus_durable_writes", default=None
)


def write_despite_rollback(write: Callable[[], object]) -> None:
    """Run ``write`` (idempotent) now, and again after the request when a rollback could undo it."""
    write()
    pending = _pending.get()
    if pending is not None and transaction.get_connection().in_atomic_block:
        pending.append(write)


class DurableWritesMiddleware:
    """Runs again, once the view has returned, the writes that ``write_despite_rollback`` was given meanwhile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pending.set([])
        try:
            return self.get_response(request)
        finally:
            writes = _pending.get()
            _pending.reset(token)
            for write in writes:
                with transaction.atomic():
                    write()
