"""Relay global ids ("Movie:42", base64-encoded) for ``id`` fields and every ``movieId: ID!`` argument."""

import binascii

from django.core.exceptions import ValidationError
from graphql_relay import from_global_id


def parse_global_id(global_id: str, expected_type: str, *, field: str) -> int:
    """Decode a global id of ``expected_type`` into a primary key; raise ValidationError(field) when malformed."""
    invalid = ValidationError(
        {field: ValidationError(f"{global_id!r} is not a valid {expected_type} id.", code="invalid")}
    )
    try:
        type_name, raw_pk = from_global_id(str(global_id))
        pk = int(raw_pk)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise invalid from None
    if type_name != expected_type or pk <= 0:
        raise invalid
    return pk
