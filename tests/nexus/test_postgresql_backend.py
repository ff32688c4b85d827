"""nexus.postgresql: Django's per-request health check costs no round trip while the connection is known good, and
still replaces a connection the server ended."""

import time
from unittest.mock import patch

import psycopg2
import pytest
from django.conf import settings
from django.db import connection, connections

from tests.conftest import need


def _new_request() -> None:
    # What Django runs as each request starts (the request_started signal).
    connection.close_if_unusable_or_obsolete()


def _select_one() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_is_not_checked_and_one_the_server_ended_is_replaced():
    need(settings.IS_POSTGRES, "needs PostgreSQL: set DATABASE_URL=postgres://...")
    assert connection.settings_dict["ENGINE"] == "nexus.postgresql"
    _select_one()
    with patch.object(
        type(connections["default"]), "is_usable", autospec=True, side_effect=lambda self: True
    ) as checked:
        for _ in range(3):
            _new_request()
            _select_one()
    assert checked.call_count == 0  # three requests, no SELECT 1 before their queries

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    parameters = connection.get_connection_params()
    with psycopg2.connect(**parameters) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    admin.close()
    time.sleep(0.2)  # the server's goodbye reaches the socket

    _new_request()
    assert _select_one() == 1  # checked, found gone and replaced: the request does not fail
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
