"""Database session settings that long-running jobs change for themselves."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections


@contextmanager
def statement_timeout_lifted(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Runs the block (or, as a decorator, the function) without PostgreSQL's statement timeout.

    Web requests run under ``DATABASE_STATEMENT_TIMEOUT_MS`` (settings); imports and trainings legitimately run
    statements for minutes. The timeout is lifted for this connection's session and set back to what it was
    afterwards, so blocks may nest. Elsewhere than on PostgreSQL there is nothing to lift.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', '0', false)")
        (previous, _) = cursor.fetchone()
    try:
        yield
    finally:
        if connection.connection is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, false)", [previous])
            except DatabaseError:
                # Only when the block left its transaction aborted: the rollback that follows undoes the lift
                # with it (SET is transactional), and the block's own error is the one that matters.
                pass
