"""One notion of "the same username" (users.models.username_key) for registration, login and the login throttle:
issue 12, finding 5. The throttle once folded case with Python's casefold while the login matched names with
PostgreSQL's UPPER, so "seclımıt" (dotless ı) reached the locked account "seclimit" with a budget of its own."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.users.factories import PASSWORD, people, person_create
from users import services
from users.models import User, username_key

pytestmark = pytest.mark.django_db

TOKEN_AUTH = "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token } }"
# Spellings that name the account "seclimit": other cases, fullwidth letters (NFKC), blanks around it.
SAME_NAME = ["SECLIMIT", "SecLimit", "ｓｅｃｌｉｍｉｔ", "ＳＥＣＬＩＭＩＴ", " seclimit "]
_addresses = iter(f"198.51.100.{number}" for number in range(1, 255))


def login(username: str, password: str = PASSWORD, address: str | None = None) -> str:
    """ "ok" or the refusal's code; each attempt from an address of its own unless told, so that only the
    account's budget is at stake."""
    try:
        services.user_login(username=username, password=password, client_address=address or next(_addresses))
    except ValidationError as exc:
        return exc.code
    return "ok"


def test_the_key_folds_case_and_compatibility_forms_and_nothing_else():
    assert {username_key(name) for name in ["seclimit", *SAME_NAME]} == {"seclimit"}
    assert username_key("Straße") == username_key("STRASSE") == "strasse"
    assert username_key("seclımıt") != username_key("seclimit")  # dotless ı is a letter of its own


@pytest.mark.parametrize("spelling", SAME_NAME)
def test_every_spelling_logs_in_to_the_one_account_it_names(spelling):
    person_create("seclimit")
    assert login(spelling) == "ok"


def test_a_locked_account_stays_locked_under_every_spelling():
    person_create("seclimit")
    assert [login("seclimit", "wrong") for _ in range(10)] == ["invalid_credentials"] * 10
    for spelling in ["seclimit", *SAME_NAME]:
        assert login(spelling) == "rate_limited", spelling
    # The dotless spelling names no account: it cannot get in, with a budget of its own or otherwise.
    assert login("seclımıt") == "invalid_credentials"


def test_failures_under_different_spellings_add_up():
    person_create("seclimit")
    for number in range(10):
        assert login(SAME_NAME[number % len(SAME_NAME)], "wrong") == "invalid_credentials"
    assert login("seclimit") == "rate_limited"


def test_unknown_names_are_counted_under_their_key_too():
    assert [login("NOBODY" if number % 2 else "ｎｏｂｏｄｙ", "wrong") for number in range(10)] == [
        "invalid_credentials"
    ] * 10
    assert login("nobody", "wrong") == "rate_limited"


@pytest.mark.parametrize(
    ("taken", "candidate"), [("seclimit", "ＳＥＣＬＩＭＩＴ"), ("Straße", "STRASSE"), ("strasse", "straße")]
)
def test_registration_refuses_a_name_that_one_login_spelling_could_confuse_with_a_taken_one(taken, candidate):
    assert_taken(taken, candidate)


@pytest.mark.parametrize(("taken", "candidate"), [("seclimit", "seclımıt"), ("seclımıt", "SECLIMIT")])
def test_registration_also_refuses_lookalikes_that_postgresql_matches_regardless_of_case(postgres, taken, candidate):
    assert_taken(taken, candidate)


def assert_taken(taken: str, candidate: str) -> None:
    person_create(taken, email="taken@example.com")
    with pytest.raises(ValidationError) as exc:
        services.user_register(username=candidate, email="other@example.com", password=PASSWORD)
    assert [error.code for error in exc.value.error_dict["username"]] == ["unique"]
    assert people().count() == 1


def test_registration_stores_the_compatibility_form_and_its_key():
    user = person_create("Ｇｒａｃｅ", email="grace@example.com")
    assert (user.username, user.username_key) == ("Grace", "grace")


def test_the_database_refuses_two_accounts_with_one_key():
    person_create("Straße", email="strasse@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="STRASSE")


def test_the_key_follows_a_renamed_account():
    user = person_create("ada")
    user.username = "Grace"
    user.save(update_fields=["username"])
    user.refresh_from_db()
    assert user.username_key == "grace"
    assert login("GRACE") == "ok"


# --- Through /graphql ---------------------------------------------------------------------------------------------


def test_token_auth_under_another_spelling_finds_the_account_locked(gql):
    person_create("seclimit")
    for _ in range(10):
        gql.execute(TOKEN_AUTH, {"u": "seclimit", "p": "wrong"}, REMOTE_ADDR="192.0.2.1")
    for spelling in ("SECLIMIT", "ｓｅｃｌｉｍｉｔ"):
        body = gql.execute(TOKEN_AUTH, {"u": spelling, "p": PASSWORD}, REMOTE_ADDR="192.0.2.2")
        assert body["data"] == {"tokenAuth": None}
        assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    body = gql.execute(TOKEN_AUTH, {"u": "seclımıt", "p": PASSWORD}, REMOTE_ADDR="192.0.2.3")
    assert body["data"] == {"tokenAuth": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
