"""Every GraphQL example in README.md runs and answers without errors, in the README's order: the account
examples sign up first, and everything after them runs signed in as that account, as a client would.

Runs on the backend of the suite and, from tests/test_embedded_default.py, on the embedded default (SQLite).
"""

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, print_ast

pytestmark = pytest.mark.usefixtures("movielens")

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_operations() -> list[str]:
    """Each operation of each ```graphql block of the README, as its own document."""
    blocks = re.findall(r"^```graphql\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    return [
        print_ast(definition)
        for block in blocks
        for definition in parse(block).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def test_the_readme_has_examples_for_every_part():
    operations = "\n".join(readme_operations())
    for field in (
        "movies(",
        "movie(",
        "register(",
        "tokenAuth(",
        "rateMovie(",
        "recommendations(",
        "similar(",
        "onboarding(",
        "createList(",
    ):
        assert field in operations


def test_every_readme_example_answers_without_errors(gql):
    token = refresh = None
    made: dict = {}  # the list a createList example made: the README writes "..." for its id and slug
    for operation in readme_operations():
        if refresh:  # the README writes "..." where a client puts the refresh token it holds
            operation = operation.replace('refreshToken: "..."', f'refreshToken: "{refresh}"')
        if made:
            operation = operation.replace('listId: "..."', f'listId: "{made["id"]}"')
            operation = operation.replace('slug: "..."', f'slug: "{made["slug"]}"')
        body = gql.execute(operation, token=token)
        assert not body.get("errors"), f"{operation}\n{body['errors']}"
        for answer in body["data"].values():
            if isinstance(answer, dict) and answer.get("errors"):
                pytest.fail(f"{operation}\n{answer['errors']}")
            if isinstance(answer, dict) and answer.get("token"):
                token, refresh = answer["token"], answer.get("refreshToken") or refresh
            if isinstance(answer, dict) and {"id", "slug"} <= set(answer.get("list") or {}):
                made = answer["list"]
    assert token, "the README shows how to sign in"
