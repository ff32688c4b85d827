"""The committed SDL (schema.graphql) is what the code serves, and everything in it is documented."""

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.api import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
REGENERATE = "DEBUG=1 python manage.py graphql_schema"


def normalized(sdl: str) -> list[str]:
    return [line.rstrip() for line in sdl.splitlines() if line.strip()]


def test_committed_schema_matches_the_code():
    assert SCHEMA_FILE.exists(), f"schema.graphql is missing: run `{REGENERATE}`"
    assert normalized(SCHEMA_FILE.read_text()) == normalized(str(schema)), (
        f"schema.graphql is out of date: run `{REGENERATE}` and commit it"
    )


def test_every_type_field_and_argument_is_described():
    undocumented = []
    for name, graphql_type in schema.graphql_schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            undocumented.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    undocumented.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        undocumented.append(f"{name}.{field_name}({arg_name})")
        if isinstance(graphql_type, GraphQLEnumType):
            undocumented += [f"{name}.{value}" for value, v in graphql_type.values.items() if not v.description]
    assert undocumented == []
