"""Who a GraphQL request acts as: decided once, from its access token alone, before any operation runs.

``/graphql`` authenticates with JSON Web Tokens only (``Authorization: Bearer``, or the token cookie in cookie
mode). Django's session cookie — an admin signed in to ``/admin/`` in the same browser — is ignored there: a
browser sends it on its own, also on requests other sites forge, and the response cache could not tell its
answers from anonymous ones (docs/security.md).

The one ``RequestIdentity`` of a request is what every operation of it runs as, what the rate limit charges and
what the response cache keys answers by. A login inside a request (``tokenAuth``, ``register``) answers with new
tokens and its own payload; it does not change who the request's other fields run as. An account deleted by the
request ends the identity: what follows runs as nobody and is refused where a user is needed.
"""

from django.contrib.auth.models import AnonymousUser
from graphql import DocumentNode, FragmentDefinitionNode, GraphQLError, GraphQLSchema
from graphql_jwt.exceptions import JSONWebTokenError
from graphql_jwt.settings import jwt_settings
from graphql_jwt.utils import get_credentials, get_payload, get_user_by_payload

from schema.pipeline.documents import root_fields
from schema.pipeline.errors import token_error


class RequestIdentity:
    """The caller of one request: anonymous (no credentials), an account (a token that verifies), or a refusal
    (credentials that do not verify, which the token mutations alone may ignore).

    ``subject`` — the account id the access token names — is known without a database query; the account itself
    is loaded once, when an operation first runs.
    """

    def __init__(self, *, subject: str | None, payload: dict | None, problem: Exception | None):
        self.subject = subject
        self._payload = payload
        self._problem = problem
        self._user = None
        self._ended = False

    @classmethod
    def from_request(cls, request) -> "RequestIdentity":
        token = get_credentials(request)
        if not token:
            return cls(subject=None, payload=None, problem=None)
        try:
            payload = get_payload(token, request)
        except JSONWebTokenError as problem:
            return cls(subject=None, payload=None, problem=problem)
        subject = jwt_settings.JWT_PAYLOAD_GET_USERNAME_HANDLER(payload)
        if not subject:
            return cls(subject=None, payload=None, problem=JSONWebTokenError("Invalid payload"))
        return cls(subject=str(subject), payload=payload, problem=None)

    @property
    def cache_viewer(self) -> str | None:
        """Whose cached answers the request may read and write: "" for anonymous callers (shared), the account id
        for a verified token; None for credentials that do not verify (never cached)."""
        if self._problem is not None:
            return None
        return self.subject or ""

    def user(self):
        """The account (loaded once), or an anonymous user."""
        if self._user is None:
            self._user = AnonymousUser()
            if self._payload is not None and self._problem is None:
                try:
                    self._user = get_user_by_payload(self._payload)
                except JSONWebTokenError as problem:  # the account was deleted or disabled since the token
                    self._problem = problem
        return self._user

    def problem(self) -> Exception | None:
        """Why the credentials are refused, or None."""
        self.user()
        return self._problem

    def credentials_problem(self, *, load: bool) -> Exception | None:
        """Why the credentials sent do not verify, or None (also for an identity this request ended itself): what
        the token alone says (no database query), or with ``load`` also whether its account is still there."""
        if load:
            self.user()
        return None if self._ended else self._problem

    def end(self) -> None:
        """The account was deleted by this request: the rest of it runs as nobody."""
        self._user = AnonymousUser()
        self._payload = None
        self._problem = JSONWebTokenError("the account no longer exists")
        self._ended = True


def request_identity(request) -> RequestIdentity:
    """The request's identity, decided on first use and kept for the rest of the request."""
    identity = request.__dict__.get("_nexus_identity")
    if identity is None:
        identity = request._nexus_identity = RequestIdentity.from_request(request)
    return identity


def root_field_refusal(request, parent_type, field_name: str) -> Exception | None:
    """Why a root field may not run on the request's credentials, or None. Token mutations (settings
    ``GRAPHQL_JWT["JWT_ALLOW_ANY_CLASSES"]``) run whatever the access token says, so that a client still sending
    its expired token can refresh it, or log out."""
    problem = request_identity(request).problem()
    if problem is None or _is_token_free(parent_type, field_name):
        return None
    return problem


def credentials_refusal(request, schema: GraphQLSchema, runs, *, load: bool) -> GraphQLError | None:
    """The error refusing a request whose access token does not verify (``load``: or names an account that is
    gone), when one of the operations it ``runs`` (document, operation) needs more than the token mutations; None
    when it may run. The view answers it with 401 and ``WWW-Authenticate`` (schema/pipeline/negotiation.py)."""
    problem = request_identity(request).credentials_problem(load=load)
    if problem is None or not any(_needs_credentials(schema, document, operation) for document, operation in runs):
        return None
    return token_error(problem)


def _needs_credentials(schema: GraphQLSchema, document: DocumentNode, operation) -> bool:
    """Whether ``operation`` runs any root field other than the token mutations (and ``__typename``): then
    credentials that do not verify refuse the whole request (401) instead of only those fields."""
    root_type = schema.get_root_type(operation.operation)
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    return any(
        field.name.value != "__typename" and not _is_token_free(root_type, field.name.value)
        for field in root_fields(operation.selection_set, fragments)
    )


def _is_token_free(parent_type, field_name: str) -> bool:
    field = parent_type.fields.get(field_name)
    graphene_type = getattr(getattr(field, "type", None), "graphene_type", None)
    return graphene_type is not None and issubclass(graphene_type, tuple(jwt_settings.JWT_ALLOW_ANY_CLASSES))
