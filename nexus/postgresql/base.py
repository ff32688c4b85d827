"""Django's PostgreSQL backend, with its per-request connection health check made free while nothing is wrong.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection (``SELECT 1``) before each request's first
query: a round trip on every request. An idle connection receives nothing from the server unless the server ended
it (a restart, a terminated backend: PostgreSQL then sends its error and closes the socket), so a socket with
nothing to read, on a connection whose last statement did not fail, is known good, without a round trip; anything
else gets Django's own check, which reconnects when the connection is gone.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not self.errors_occurred and self._socket_quiet():
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_quiet(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError, base.Database.Error):  # closed, or no socket any more
            return False
        return not readable
