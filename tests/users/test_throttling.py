"""Login throttling through the login service, on whichever cache is configured (Redis or the in-process one)."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from tests.users.factories import PASSWORD, person_create
from users import services

pytestmark = pytest.mark.django_db


def login(username: str, password: str, address: str = "198.51.100.7") -> str:
    """ "ok" or the refusal's code."""
    try:
        services.user_login(username=username, password=password, client_address=address)
    except ValidationError as exc:
        return exc.code
    return "ok"


def test_ten_failures_refuse_even_the_right_password_for_that_account():
    person_create("ada")
    assert [login("ada", "wrong") for _ in range(10)] == ["invalid_credentials"] * 10
    assert login("ada", PASSWORD) == "rate_limited"
    assert login("ADA", PASSWORD, address="203.0.113.9") == "rate_limited"  # any case, any address


def test_refusals_do_not_tell_whether_an_account_exists():
    person_create("ada")
    existing = [login("ada", "wrong", address="192.0.2.1") for _ in range(11)]
    missing = [login("nobody", "wrong", address="192.0.2.2") for _ in range(11)]
    assert existing == missing == ["invalid_credentials"] * 10 + ["rate_limited"]


def test_ten_failures_from_one_address_refuse_every_account_from_there():
    person_create("ada")
    for number in range(10):
        assert login(f"guess{number}", "wrong") == "invalid_credentials"
    assert login("ada", PASSWORD) == "rate_limited"
    assert login("ada", PASSWORD, address="203.0.113.9") == "ok"


def test_a_successful_login_forgets_the_account_failures():
    person_create("ada")
    for _ in range(9):
        login("ada", "wrong", address="192.0.2.1")
    assert login("ada", PASSWORD, address="192.0.2.2") == "ok"
    assert [login("ada", "wrong", address="192.0.2.3") for _ in range(10)] == ["invalid_credentials"] * 10


def test_logins_are_allowed_again_when_the_window_has_passed(settings):
    settings.NEXUS_LOGIN_MAX_FAILURES = 2
    settings.NEXUS_LOGIN_FAILURE_WINDOW = timedelta(seconds=1)
    person_create("ada")
    login("ada", "wrong")
    login("ada", "wrong")
    assert login("ada", PASSWORD) == "rate_limited"
    time.sleep(1.2)  # real time: Redis expires keys on its own clock, which freezegun cannot move
    assert login("ada", PASSWORD) == "ok"
