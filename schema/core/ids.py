"""Relay global ids ("Movie:42", base64-encoded) for ``id`` fields and every ``movieId: ID!`` argument."""

import binascii

from django.core.exceptions import ValidationError
from graphql_relay import from_global_id

# Keys are PostgreSQL bigints: a larger number names no row, and the database would refuse to compare with it.
_MAX_KEY = 2**63 - 1


def global_id_parts(global_id: str) -> tuple[str, int] | None:
    """The type name and primary key of a global id, or None unless it decodes to a type name and a key (a
    number of ASCII digits: int() would also take " 12", "1_2" or "١٢")."""
    try:
        type_name, raw_pk = from_global_id(str(global_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        return None
    if not type_name or not (raw_pk.isascii() and raw_pk.isdigit()) or not 0 < int(raw_pk) <= _MAX_KEY:
        return None
    return type_name, int(raw_pk)


def parse_global_id(global_id: str, expected_type: str, *, field: str) -> int:
    """Decode a global id of ``expected_type`` into a primary key; raise ValidationError(field) when malformed."""
    parts = global_id_parts(global_id)
    if parts is None or parts[0] != expected_type:
        raise ValidationError(
            {field: ValidationError(f"{global_id!r} is not a valid {expected_type} id.", code="invalid")}
        )
    return parts[1]
