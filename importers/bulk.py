"""Bulk loading tools for importers: PostgreSQL COPY (text and binary) through temporary staging tables, index
rebuilds around large loads, typed defaults for INSERT ... SELECT, and many-to-many links replaced in bulk."""

import csv
import io
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

import numpy as np
from django.db import connection
from django.db.models import Model
from django.db.models.fields.related_descriptors import ManyToManyDescriptor

Item = TypeVar("Item")


def m2m_links_replace(
    *, relation: ManyToManyDescriptor, owner_ids: Collection[int], wanted: set[tuple[int, int]]
) -> None:
    """Make the links of `owner_ids` through `relation` (e.g. Movie.genres) exactly the `wanted` (owner id,
    target id) pairs: delete the others, add the missing ones."""
    through = relation.through
    owner_column, target_column = relation.field.m2m_column_name(), relation.field.m2m_reverse_name()
    existing: dict[tuple[int, int], int] = {}
    for chunk in batches(owner_ids, 500):  # under SQLite's limit on query parameters
        links = through.objects.filter(**{f"{owner_column}__in": chunk})
        existing |= {(owner, target): pk for pk, owner, target in links.values_list("pk", owner_column, target_column)}
    stale = [pk for pair, pk in existing.items() if pair not in wanted]
    for chunk in batches(stale, 500):
        through.objects.filter(pk__in=chunk).delete()
    through.objects.bulk_create(
        [through(**{owner_column: owner, target_column: target}) for owner, target in wanted - existing.keys()]
    )


@contextmanager
def indexes_rebuilt_after(cursor, model: type[Model], *, enabled: bool, keep_unique: bool) -> Iterator[None]:
    """Inside: ``model``'s table without its secondary indexes, foreign keys and (unless ``keep_unique``, which
    ON CONFLICT needs) unique constraints; after: all back as they were (their own definitions and names).

    Maintaining five b-trees row by row, most of them in random order, and checking two foreign keys per row
    made inserting 20 million ratings take most of an hour; building an index from sorted data and validating
    a foreign key with one join take seconds each. The table is locked (ACCESS EXCLUSIVE) until the import
    commits.
    """
    if not enabled:
        yield
        return
    table = model._meta.db_table
    cursor.execute(
        "SELECT index.indexrelid::regclass::text, pg_get_indexdef(index.indexrelid) FROM pg_index AS index "
        "WHERE index.indrelid = %s::regclass AND NOT index.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint AS c WHERE c.conindid = index.indexrelid AND c.conrelid = index.indrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = ANY(%s) ORDER BY contype DESC",  # unique ('u') before foreign keys ('f')
        [table, ["f"] if keep_unique else ["f", "u"]],
    )
    constraints = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# A row of binary COPY into the ratings table: the field count, then each field's length and big-endian value.
# The score is a numeric(2, 1) of two base-10000 digits (whole stars, then 0 or 5000 for a half), which
# PostgreSQL normalises; timestamps are microseconds since 2000-01-01 UTC.
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
COPY_BINARY_TRAILER = b"\xff\xff"
COPY_WRITE_BYTES = 1 << 20


class BinaryCopy:
    """The file object COPY ... FROM STDIN reads: binary COPY's header, the rows' bytes a slice at a time (never
    one 1.3 GB copy of them) and its trailer."""

    def __init__(self, rows: np.ndarray):
        self._rows = rows
        self._next_row = 0
        self._header_sent = self._trailer_sent = False

    def read(self, size: int = COPY_WRITE_BYTES) -> bytes:
        if not self._header_sent:
            self._header_sent = True
            return COPY_BINARY_HEADER
        if self._next_row < len(self._rows):
            end = self._next_row + max(1, size // self._rows.itemsize)
            chunk = self._rows[self._next_row : end].tobytes()
            self._next_row = end
            return chunk
        if not self._trailer_sent:
            self._trailer_sent = True
            return COPY_BINARY_TRAILER
        return b""


def id_map(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(MovieLens id, row id) pairs as two arrays sorted by MovieLens id, for ``searchsorted``."""
    table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    table = table[np.argsort(table[:, 0])]
    return table[:, 0], table[:, 1]


class InsertDefaults:
    """The columns an INSERT ... SELECT leaves out, as typed placeholders with Django's defaults for them
    (Django keeps defaults in Python, not in the schema)."""

    def __init__(self, model: type[Model], *, supplied: Collection[str]):
        fields = [
            field for field in model._meta.concrete_fields if not field.primary_key and field.column not in supplied
        ]
        self.columns = ", ".join(field.column for field in fields)
        self.placeholders = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
        self.values = [field.get_db_prep_save(field.get_default(), connection) for field in fields]


def staging_create(cursor, table: str, columns: dict[str, str]) -> None:
    """An empty temporary staging table that lives until the transaction ends."""
    definition = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {table}")


def copy_to_staging(cursor, table: str, columns: dict[str, str], rows: Iterable[Sequence]) -> None:
    """Fill a temporary staging table with `rows` through COPY (PostgreSQL); it lives until the transaction
    ends."""
    staging_create(cursor, table, columns)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    # In COPY's CSV format an empty unquoted field is NULL; text columns read it as "", Django's blank value.
    text_columns = ", ".join(name for name, sql_type in columns.items() if sql_type == "text")
    force_not_null = f", FORCE_NOT_NULL ({text_columns})" if text_columns else ""
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{force_not_null})", buffer)


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# Movie columns an import writes, with their staging types; the names are Movie's column names.
