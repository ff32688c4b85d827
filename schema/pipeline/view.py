"""The /graphql endpoint: graphene-django's view (and its GraphiQL page) with Nexus' request pipeline.

A request passes these steps, each in a module of its own:

0. identity — who the request runs as, decided once from its access token (schema/pipeline/identity.py); a token
   that does not verify refuses the request with 401 unless it only runs the token mutations;
1. size check — the raw body or query string against the document size limit, before anything is parsed
   (schema/pipeline/limits.py); file uploads: multipart bodies (schema/pipeline/multipart.py);
2. parameters — the JSON body (one operation, or a bounded batch), and Apollo persisted queries
   (schema/pipeline/persisted.py);
3. document — parsed and validated once per distinct text, limit rules included (schema/pipeline/documents.py);
4. page sizes, cost and rate limit — page sizes against their caps, the operation's cost against its maximum,
   then spent from the caller's budget; a request refused before it runs spends nothing (schema/pipeline/limits.py,
   schema/pipeline/ratelimit.py);
5. response cache — queries answered from the cache, anonymous ones shared, signed-in users' their own
   (schema/pipeline/response_cache.py); a signed-in user's mutation makes their own entries stale;
6. execution — graphql-core with every root field run as the request's identity and per-row fields deferred to
   id-keyed loaders (schema/pipeline/execution.py), mutations in a transaction;
7. encoding — orjson, in the media type the client accepts with the status GraphQL over HTTP gives it
   (schema/pipeline/negotiation.py), with ``extensions.cost``, ``extensions.rateLimit`` and the rate-limit headers.

Errors for clients keep their message; others become "Internal server error." and a logged id (pipeline/errors.py).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphene_django.utils.utils import set_rollback
from graphene_django.views import GraphQLView, HttpError
from graphql import ExecutionResult, GraphQLError, OperationType, execute, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule
from graphql_jwt.settings import jwt_settings

from nexus import metrics
from nexus.answer_versions import answer_versions_collected
from nexus.versions import request_bumps_now, request_reads, viewer_version_bump, viewer_version_bump_now
from schema.pipeline import documents, limits, multipart, negotiation, persisted, ratelimit, response_cache
from schema.pipeline.errors import client_error_format
from schema.pipeline.execution import IdentityExecutionContext
from schema.pipeline.identity import credentials_refusal, request_identity


def validation_rules():
    """graphql-core's standard rules, Nexus' limits, and no introspection when it is switched off."""
    rules = [*specified_rules, *limits.LIMIT_RULES]
    if not settings.NEXUS_GRAPHQL_INTROSPECTION:
        # Only __schema and __type: clients (Apollo's cache among them) ask for __typename everywhere.
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


class RequestRefused(Exception):
    """The request as a whole is refused before any operation runs."""

    def __init__(self, status: int, message: str, code: str, *, error=None, cost: int = 0, rate=None):
        super().__init__(message)
        self.status = status
        self.error = error or GraphQLError(message, extensions={"code": code})
        self.cost = cost
        self.rate = rate  # the caller's budget, when it was already consulted
        # Entries of a batch (a JSON array body): the refusal is answered once for each, so that a batching client
        # (Apollo's BatchHttpLink) gives every operation its error and code.
        self.entries: int | None = None


@dataclass
class Operation:
    """One operation of a request, from its parameters to its result."""

    query: str | None
    variables: dict | None
    operation_name: str | None
    prepared: documents.PreparedDocument | None = None
    cost: int = 0
    errors: list = field(default_factory=list)  # refusals before execution
    notices: list = field(default_factory=list)  # errors reported beside a result that still runs
    status: int = 200  # as the GraphQL over HTTP spec sets it for application/graphql-response+json
    request_error: bool = False  # refused as a GraphQL request (document, variables, limits): 200 in application/json
    data_json: bytes | None = None  # encoded ``data`` of a successful result
    from_cache: bool = False
    in_batch: bool = False  # an entry of a JSON array body

    def refuse(self, errors: list, status: int = 400) -> "Operation":
        """Refused before it runs, as a GraphQL request error (schema/pipeline/negotiation.py)."""
        self.errors, self.status, self.request_error = errors, status, True
        return self


class NexusGraphQLView(GraphQLView):
    def __init__(self, **kwargs):
        kwargs.setdefault("graphiql", settings.NEXUS_GRAPHIQL)
        kwargs.setdefault("validation_rules", validation_rules())
        super().__init__(**kwargs)

    execution_context_class = IdentityExecutionContext

    def dispatch(self, request, *args, **kwargs):
        # Only access tokens authenticate here (schema/pipeline/identity.py): a signed-in admin's session is not a
        # credential of the API, so it can neither be served nor cached as anyone's answers.
        request.user = AnonymousUser()
        if (upload_refusal := multipart.multipart_refusal(request)) is not None:  # before anything reads the body
            return self.refusal_response(request, RequestRefused(*upload_refusal))
        serve = self.serve
        if _carries_token_cookie(request):
            # Browsers send cookies on their own, also on requests forged by other sites: a request that may
            # authenticate with one must prove it comes from a page of ours (bearer-token requests need not).
            serve = csrf_protect(serve)
        with request_reads():  # each data version read once per request (nexus.versions)
            return serve(request)

    def serve(self, request):
        if request.method not in ("GET", "POST"):
            return self.refusal_response(request, RequestRefused(405, "GraphQL takes GET and POST.", "BAD_REQUEST"))
        if request.method == "GET" and self.graphiql and self.can_display_graphiql(request, {}):
            return self.graphiql_page(request)

        current_limits = limits.Limits.from_settings()
        budget = ratelimit.rate_limit_subject(request)
        operations = []
        try:
            operations = self.request_operations(request, current_limits)
            if (refusal := self.credentials_refusal(request, operations, load=False)) is not None:
                raise RequestRefused(401, refusal.message, "", error=refusal)
            rate = self.rate_limit(request, budget, operations, current_limits)
        except RequestRefused as refusal:
            if refusal.entries is None and operations and operations[0].in_batch:
                refusal.entries = len(operations)
            if refusal.rate is None:  # refused before it ran: spends nothing, reports the budget
                refusal.rate = ratelimit.budget_spend(budget, 0)
            return self.refusal_response(request, refusal)
        for operation in operations:
            self.run(request, operation)
        return self.encode(request, operations, current_limits=current_limits, rate=rate)

    # The page's script reads the CSRF cookie for cookie-mode requests. API answers set none: a fresh CSRF secret
    # per answer costs a fifth of a cached answer's time, and cookie-mode logins set it themselves (rotate_token).
    @method_decorator(ensure_csrf_cookie)
    def graphiql_page(self, request):
        return super().dispatch(request)  # graphene-django renders GraphiQL's page

    # --- Steps 1–3: size, parameters, document --------------------------------------------------------------

    def request_operations(self, request, current_limits: limits.Limits) -> list[Operation]:
        """The request's operations, each with its document and cost, or the request's refusal."""
        _check_size(request, current_limits)
        body = self.request_body(request)
        if isinstance(body, list):
            try:
                return self.batch_prepare(request, body, current_limits)
            except RequestRefused as refusal:
                refusal.entries = len(body) or None
                raise
        return [self.operation_prepare(request, body, current_limits, in_batch=False)]

    def batch_prepare(self, request, body: list, current_limits: limits.Limits) -> list[Operation]:
        if current_limits.max_batch <= 0:
            raise RequestRefused(400, "Batched requests are not accepted: send one operation.", "BAD_REQUEST")
        if not 0 < len(body) <= current_limits.max_batch:
            raise RequestRefused(
                400,
                f"The batch holds {len(body)} operations; between 1 and {current_limits.max_batch} are accepted.",
                "BATCH_TOO_LARGE",
            )
        if not all(isinstance(entry, Mapping) for entry in body):
            raise RequestRefused(400, "Each entry of a batch must be a JSON object.", "BAD_REQUEST")
        return [self.operation_prepare(request, entry, current_limits, in_batch=True) for entry in body]

    def request_body(self, request) -> Any:
        if request.method == "GET":  # no body, whatever Content-Type says (Apollo sends application/json)
            return {}
        content_type = self.get_content_type(request)
        if content_type == "application/json":
            try:
                return orjson.loads(request.body)
            except orjson.JSONDecodeError:
                raise RequestRefused(400, "The request body is not valid JSON.", "BAD_REQUEST") from None
        if content_type == "application/graphql":
            return {"query": request.body.decode(errors="replace")}
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return multipart.form_body(request)
        return {}

    def operation_prepare(self, request, data, current_limits: limits.Limits, *, in_batch: bool) -> Operation:
        if not isinstance(data, Mapping):
            raise RequestRefused(400, "The request body must be a JSON object (or an array of them).", "BAD_REQUEST")
        params = request.GET if not in_batch else {}
        try:
            query, variables, operation_name, _ = self.get_graphql_params(request, data)
            query, digest = persisted.persisted_query_resolve(query=query, extensions=_extensions(params, data))
        except HttpError as error:
            raise RequestRefused(error.response.status_code, error.message, "BAD_REQUEST") from None
        except persisted.PersistedQueryError as error:
            refused = Operation(None, variables, operation_name, errors=[error.error], status=error.status)
            refused.in_batch = in_batch
            return refused
        operation = Operation(query, variables, operation_name, in_batch=in_batch)
        if not query:  # not a GraphQL request at all: 400 in either media type
            operation.errors, operation.status = [_request_error("Must provide a query string.")], 400
            return operation

        operation.prepared = documents.document_prepare(
            schema=self.schema.graphql_schema,
            query=query,
            rules=self.validation_rules,
            rules_key=(current_limits, settings.NEXUS_GRAPHQL_INTROSPECTION),
            hide_schema=not settings.NEXUS_GRAPHQL_INTROSPECTION,
        )
        if operation.prepared.errors:
            return operation.refuse(list(operation.prepared.errors))
        if digest is not None:  # only a document that parsed and validated is kept for its hash
            notice = persisted.persisted_query_register(
                digest=digest, query=query, subject=ratelimit.request_subject(request)
            )
            operation.notices += [notice] if notice is not None else []
        node = operation.prepared.operation(operation_name)
        if node is None:
            message = (
                f"Unknown operation named `{operation_name}`."
                if operation_name
                else "Must provide operationName when the document holds several operations."
            )
            return operation.refuse([_request_error(message)])
        if request.method == "GET" and node.operation != OperationType.QUERY:
            raise RequestRefused(405, f"A {node.operation.value} must be sent with POST, not GET.", "BAD_REQUEST")
        variables_errors = documents.variables_errors(
            schema=self.schema.graphql_schema,
            operation=node,
            variables=variables,
            hide_schema=not settings.NEXUS_GRAPHQL_INTROSPECTION,
        )
        if variables_errors:  # refused here as execution would, with what the messages may name checked
            return operation.refuse(variables_errors)

        # --- Step 4: page sizes, then cost (the rate limit is spent for the whole request in ``serve``) ---
        page_size_refusals = []
        operation.cost = limits.operation_cost(
            schema=self.schema.graphql_schema,
            document=operation.prepared.document,
            operation=node,
            variables=variables,
            page_size_refusals=page_size_refusals,
        )
        refusal = limits.cost_refusal(cost=operation.cost, limits=current_limits)
        if page_size_refusals or refusal is not None:
            operation.refuse(page_size_refusals or [refusal])
        return operation

    @staticmethod
    def get_graphql_params(request, data):
        query, variables, operation_name, request_id = GraphQLView.get_graphql_params(request, data)
        if query is not None and not isinstance(query, str):
            raise HttpError(HttpResponse(status=400), "`query` must be a string.")
        if variables is not None and not isinstance(variables, dict):
            raise HttpError(HttpResponse(status=400), "`variables` must be a JSON object.")
        if operation_name is not None and not isinstance(operation_name, str):
            raise HttpError(HttpResponse(status=400), "`operationName` must be a string.")
        return query, variables, operation_name, request_id

    def rate_limit(self, request, budget, operations: list[Operation], current_limits: limits.Limits):
        """Spends the request's cost from the caller's budget; the budget's state (None: not limited)."""
        # Operations refused before running (invalid, too costly) spend nothing beyond the request's one point.
        cost = sum(operation.cost for operation in operations if not operation.errors)
        if len(operations) > 1 and cost > current_limits.max_cost:
            raise RequestRefused(
                400,
                f"The batch would cost {cost} points in all; at most {current_limits.max_cost} are allowed.",
                "QUERY_TOO_COSTLY",
                cost=cost,
            )
        runs = any(not operation.errors for operation in operations)
        rate = ratelimit.budget_spend(budget, cost if runs else 0, viewer=request_identity(request).subject)
        if rate is not None and rate.refused:
            raise RequestRefused(429, "", "RATE_LIMITED", error=rate.error(cost=cost), cost=cost, rate=rate)
        return rate

    def credentials_refusal(self, request, operations: list[Operation], *, load: bool) -> GraphQLError | None:
        """INVALID_TOKEN or TOKEN_EXPIRED when the access token does not verify (``load``: or its account is gone)
        and an operation that runs needs it (schema/pipeline/identity.py); answered 401."""
        runs = [(op.prepared.document, op.prepared.operation(op.operation_name)) for op in operations if not op.errors]
        return credentials_refusal(request, self.schema.graphql_schema, runs, load=load)

    # --- Steps 5–6: response cache, execution ---------------------------------------------------------------

    def run(self, request, operation: Operation) -> None:
        """Answers a valid operation from the response cache, or executes it (and caches the answer)."""
        if operation.errors:  # refused before running
            if operation.prepared is not None:
                self.record(operation, errors=operation.errors)
            return
        node = operation.prepared.operation(operation.operation_name)
        identity = request_identity(request)
        cache_key = None
        viewer = response_cache.response_cache_viewer(request)
        if node.operation == OperationType.QUERY and response_cache.response_cache_enabled() and viewer is not None:
            cache_key = response_cache.response_cache_key(
                schema=self.schema.graphql_schema,
                normalized_document_hash=operation.prepared.normalized_hash,
                operation_name=operation.operation_name,
                variables=operation.variables,
                viewer=viewer,
            )
            cached = response_cache.cached_data_get(cache_key) if cache_key else None
            if cached is not None:
                operation.data_json, operation.from_cache = cached, True
                self.record(operation, errors=None)
                return

        credentials = self.credentials_refusal(request, [operation], load=True)  # the account deleted or disabled
        if credentials is not None:
            operation.errors, operation.status = [credentials], 401
            self.record(operation, errors=operation.errors)
            return
        with answer_versions_collected() as depends_on:  # others' data the answer shows (nexus.answer_versions)
            result = self.execute_operation(request, operation, node)
        if response_cache.response_cache_viewer(request) != viewer:
            cache_key = None  # the identity ended while this ran (its account was deleted): the answer is no one's
        if node.operation == OperationType.MUTATION and identity.subject is not None:
            # Whatever a mutation changed, the caller's own cached answers may show it. Its transaction has
            # committed by now; when the whole request runs inside one (as in tests), bump again once that commits.
            viewer_version_bump_now(identity.subject)
            if transaction.get_connection().in_atomic_block:
                request_bumps_now()  # what the mutation's services will bump (the account's version, say) too
                viewer_version_bump(identity.subject)
        self.record(operation, errors=result.errors)
        if result.errors:
            set_rollback()
            operation.errors = list(result.errors)
            if any(not getattr(error, "path", None) for error in result.errors):
                operation.refuse(operation.errors)  # nothing ran: a request error
            else:
                operation.data_json = _encode(result.data)
            return
        operation.data_json = _encode(result.data)
        if cache_key is not None:
            response_cache.cached_data_set(cache_key, operation.data_json, depends_on)

    def execute_operation(self, request, operation: Operation, node) -> ExecutionResult:
        options = {
            "root_value": self.get_root_value(request),
            "context_value": self.get_context(request),
            "variable_values": operation.variables,
            "operation_name": operation.operation_name,
            "middleware": self.get_middleware(request),
            "execution_context_class": self.execution_context_class,
        }
        document = operation.prepared.document
        try:
            if node.operation == OperationType.MUTATION and settings.GRAPHENE.get("ATOMIC_MUTATIONS"):
                with transaction.atomic():
                    result = execute(self.schema.graphql_schema, document, **options)
                    if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
                        transaction.set_rollback(True)  # a payload with errors changes nothing
                return result
            return execute(self.schema.graphql_schema, document, **options)
        except Exception as error:  # noqa: BLE001 - reported to the client masked, logged in full
            return ExecutionResult(data=None, errors=[error])

    @staticmethod
    def record(operation: Operation, *, errors) -> None:
        label = operation.prepared.metrics_label(operation.operation_name)
        metrics.GRAPHQL_OPERATIONS.labels(operation=label, outcome="error" if errors else "success").inc()

    # --- Step 7: encoding -----------------------------------------------------------------------------------

    def encode(self, request, operations: list[Operation], *, current_limits: limits.Limits, rate) -> HttpResponse:
        media_type = negotiation.response_media_type(request)
        bodies = [self.operation_body(operation, current_limits=current_limits, rate=rate) for operation in operations]
        if len(operations) == 1 and not operations[0].in_batch:  # a batch of one is answered as a batch
            operation = operations[0]
            content = bodies[0]
            status = negotiation.response_status(
                operation.status, request_error=operation.request_error, media_type=media_type
            )
        else:
            content = b"[" + b",".join(bodies) + b"]"
            status = 401 if any(operation.status == 401 for operation in operations) else 200
        if "pretty" in request.GET:
            content = orjson.dumps(orjson.loads(content), option=orjson.OPT_INDENT_2)
        codes = [_code(error) for operation in operations for error in operation.errors]
        response = negotiation.graphql_response(content, status=status, media_type=media_type, codes=codes)
        response["X-Cache"] = "HIT" if all(operation.from_cache for operation in operations) else "MISS"
        _add_rate_headers(response, rate)
        return response

    def operation_body(self, operation: Operation, *, current_limits: limits.Limits, rate) -> bytes:
        extensions = _encode(_extensions_of(operation.cost, current_limits=current_limits, rate=rate))
        if operation.errors or operation.notices:
            errors = _encode([self.format_error(error) for error in [*operation.errors, *operation.notices]])
            if operation.data_json is None:
                return b'{"errors":' + errors + b',"extensions":' + extensions + b"}"
            return b'{"errors":' + errors + b',"data":' + operation.data_json + b',"extensions":' + extensions + b"}"
        return b'{"data":' + operation.data_json + b',"extensions":' + extensions + b"}"

    def refusal_response(self, request, refusal: RequestRefused) -> HttpResponse:
        extensions = _extensions_of(refusal.cost, current_limits=limits.Limits.from_settings(), rate=refusal.rate)
        content = _encode({"errors": [self.format_error(refusal.error)], "extensions": extensions})
        if refusal.entries:
            content = b"[" + b",".join([content] * refusal.entries) + b"]"
        response = negotiation.graphql_response(
            content,
            status=refusal.status,
            media_type=negotiation.response_media_type(request),
            codes=[_code(refusal.error)],
        )
        response["X-Cache"] = "MISS"
        if refusal.status == 405:
            response["Allow"] = "GET, POST"
        _add_rate_headers(response, refusal.rate)
        return response

    @staticmethod
    def format_error(error):
        return client_error_format(error)


def _check_size(request, current_limits: limits.Limits) -> None:
    """Refuses a body or query string larger than the document limit, reading no more of it than needed."""
    maximum = current_limits.max_document_bytes
    if request.method == "GET":
        size = len(request.META.get("QUERY_STRING", ""))
    elif multipart.is_multipart(request):  # files have their own limit (multipart_refusal): the document is this
        size = multipart.operations_size(request)
    else:
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size <= maximum:  # the declared length may be absent (chunked) or wrong: measure what came
            size = len(request.body)
    if size > maximum:
        raise RequestRefused(
            413,
            f"The request is {size} bytes; a GraphQL document with its variables may take at most {maximum} bytes.",
            "DOCUMENT_TOO_LARGE",
        )


def _extensions(params, data) -> Mapping | None:
    extensions = params.get("extensions") or data.get("extensions")
    if isinstance(extensions, str):  # GET: a JSON string in the query string
        try:
            extensions = orjson.loads(extensions)
        except orjson.JSONDecodeError:
            raise HttpError(HttpResponse(status=400), "`extensions` is not valid JSON.") from None
    if extensions is not None and not isinstance(extensions, Mapping):
        raise HttpError(HttpResponse(status=400), "`extensions` must be a JSON object.")
    return extensions


def _extensions_of(cost: int, *, current_limits: limits.Limits, rate) -> dict:
    """``extensions`` of an answer: what the operation costs against the maximum one may cost, and apart from
    that the caller's rate-limit budget (absent when no limit applies)."""
    extensions = {"cost": {"requested": cost, "maximum": current_limits.max_cost}}
    if rate is not None:
        extensions["rateLimit"] = rate.extension()
    return extensions


def _code(error) -> str | None:
    return (getattr(error, "extensions", None) or {}).get("code")


def _add_rate_headers(response: HttpResponse, rate: ratelimit.RateLimitState | None) -> None:
    if rate is not None:
        for name, value in rate.headers().items():
            response[name] = value


def _encode(value) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # beyond what orjson encodes (integers over 64 bits): the slower standard library can
        return json.dumps(value, separators=(",", ":")).encode()


def _request_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def _carries_token_cookie(request) -> bool:
    return any(
        name in request.COOKIES for name in (jwt_settings.JWT_COOKIE_NAME, jwt_settings.JWT_REFRESH_TOKEN_COOKIE_NAME)
    )
