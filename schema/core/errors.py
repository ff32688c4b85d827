"""Errors clients can act on: ``errors: [Error!]!`` in mutation payloads, ``extensions.code`` on GraphQL errors."""

from collections.abc import Iterator
from contextlib import contextmanager

import graphene
from django.core.exceptions import ValidationError
from graphene.utils.str_converters import to_camel_case
from graphql import GraphQLError


class ErrorCode(graphene.Enum):
    """Machine-readable reason for an error in a mutation payload. One vocabulary with `extensions.code` of
    GraphQL errors: a problem both can report has the same name in both (README, "Error codes")."""

    BAD_USER_INPUT = "bad_user_input"
    REQUIRED = "required"
    NOT_FOUND = "not_found"
    UNIQUE = "unique"
    OUT_OF_RANGE = "out_of_range"
    STEP_MISMATCH = "step_mismatch"
    PASSWORD_TOO_WEAK = "password_too_weak"  # noqa: S105 - an error code, not a password
    WRONG_PASSWORD = "wrong_password"  # noqa: S105
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    LIMIT_EXCEEDED = "limit_exceeded"
    # The first vocabulary's names, kept so that clients that name them still validate; never returned.
    INVALID = "invalid"
    PERMISSION_DENIED = "permission_denied"

    @property
    def description(self):
        return _CODE_DESCRIPTIONS.get(self.value) or _DEPRECATED_CODES.get(self.value)

    @property
    def deprecation_reason(self):
        return _DEPRECATED_CODES.get(self.value)


_CODE_DESCRIPTIONS = {
    "bad_user_input": "The value is malformed or not allowed (a malformed id, text with control characters); the "
    "same code as a query argument refused by value.",
    "required": "The value is missing.",
    "not_found": "No object has this id.",
    "unique": "The value is already taken.",
    "out_of_range": "The value (a number, a date) is outside the allowed range.",
    "step_mismatch": "The number is inside the allowed range but not one of its steps (a score of 3.3: scores go "
    "in half steps).",
    "password_too_weak": "The password fails the password policy.",
    "wrong_password": "The password does not match.",
    "forbidden": "The caller may not do this.",
    "rate_limited": "Too many attempts; try again later.",
    "limit_exceeded": "A limit of the account is reached (lists per account, movies per list): remove something first.",
}
_KNOWN_CODES = set(_CODE_DESCRIPTIONS)
_DEPRECATED_CODES = {
    "invalid": "Never returned: the same problem is BAD_USER_INPUT, as in GraphQL errors.",
    "permission_denied": "Never returned: the same problem is FORBIDDEN, as in GraphQL errors.",
}
# Services' codes named as in the first vocabulary (INVALID, PERMISSION_DENIED): reported under the names that
# GraphQL errors use for the same problems.
_RENAMED = {"invalid": "bad_user_input", "permission_denied": "forbidden"}


class Error(graphene.ObjectType):
    """A problem with the input of a mutation. Nothing was changed when a payload carries errors."""

    field = graphene.String(description="The input field (camelCase) the error is about; null for the whole input.")
    message = graphene.String(required=True, description="Human-readable explanation, safe to show to people.")
    code = graphene.Field(ErrorCode, required=True, description="Machine-readable reason.")


def errors_from_validation_error(exc: ValidationError) -> list[Error]:
    """Flatten a Django ValidationError (from a service) into payload errors with camelCase field names."""
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
    errors = []
    for field, field_errors in by_field.items():
        for error in field_errors:
            message = error.message % error.params if error.params else error.message
            code = _RENAMED.get(error.code, error.code)
            code = code if code in _KNOWN_CODES else "bad_user_input"
            errors.append(
                Error(
                    field=to_camel_case(field) if field and field != "__all__" else None,
                    message=str(message),
                    code=code,
                )
            )
    return errors


def bad_input(message: str) -> GraphQLError:
    """A GraphQL error for arguments the schema accepts by type but not by value (bad cursor, page too large)."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def bad_input_from_validation_error(exc: ValidationError) -> GraphQLError:
    """The one way a ValidationError from a service or selector becomes a GraphQL error: BAD_USER_INPUT, each
    problem after the argument it is about."""
    problems = [
        f"`{error.field}`: {error.message}" if error.field else error.message
        for error in errors_from_validation_error(exc)
    ]
    return bad_input("; ".join(problems))


@contextmanager
def refused_as_bad_input() -> Iterator[None]:
    """Inside: a ValidationError of a service or selector (arguments refused by value) becomes BAD_USER_INPUT."""
    try:
        yield
    except ValidationError as exc:
        raise bad_input_from_validation_error(exc) from None


def unauthenticated() -> GraphQLError:
    return GraphQLError("You must be logged in to do this.", extensions={"code": "UNAUTHENTICATED"})


def permission_denied(message: str = "You do not have permission to do this.") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})
