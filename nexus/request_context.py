"""What the kernel knows of the HTTP request being served: its id, its client's address and its memo.

The request id: one id per HTTP request, on every log line written while serving it, in the response's
``X-Request-ID`` header and in the Celery tasks the request starts, so that one request can be followed from
the web process into the workers. The client address (``client_address``) is what rate limits and login
throttles count by. The request's memo (``request_memo``) holds what one request reads more than once, such as
movie cards, for that request only.
"""

import contextvars
import ipaddress
import logging
import re
import uuid

from celery.signals import before_task_publish, task_prerun
from django.conf import settings

REQUEST_ID_HEADER = "X-Request-ID"
# The name under which the id travels in a task message's headers.
TASK_HEADER = "nexus_request_id"
# A proxy's or client's id is kept only when it looks like one, so that it cannot forge or bloat log lines.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("nexus_request_id", default=None)
_request_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("nexus_request_memo", default=None)


def request_memo() -> dict | None:
    """A dict that lives as long as the HTTP request being served (None outside one), for data the request
    reads more than once; what changes such data during the request drops its entries."""
    return _request_memo.get()


def request_id_for(header_value: str | None) -> str:
    """The id a request goes by: the one its caller (a proxy, another service) sent, or a new one."""
    if header_value and _ACCEPTABLE_REQUEST_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Binds the request id and a fresh memo for the duration of the request, and returns the id to the
    client."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token, memo = request_id_var.set(request_id), _request_memo.set({})
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            _request_memo.reset(memo)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Gives every log record a ``request_id`` attribute (None outside a request or task)."""

    def filter(self, record):
        # Django logs a request's 4xx/5xx response ("django.request") after the middleware has returned; such
        # records carry the request itself.
        record.request_id = request_id_var.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True


def connect_celery_signals() -> None:
    before_task_publish.connect(_add_request_id_to_task, weak=False)
    task_prerun.connect(_bind_task_request_id, weak=False)


def _add_request_id_to_task(headers=None, **kwargs):
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


def _bind_task_request_id(task=None, **kwargs):
    # A task run eagerly runs inside the request that started it and keeps its id. A worker binds the id of
    # each task it runs, None included, so that a task from outside any request never logs an earlier one's.
    if not task.request.is_eager:
        request_id_var.set(getattr(task.request, TASK_HEADER, None))


def client_address(request) -> str | None:
    """The address of the client that sent ``request``, for counting its attempts and requests.

    ``REMOTE_ADDR`` unless ``NEXUS_TRUSTED_PROXIES`` = N reverse proxies stand in front of Nexus: each appends the
    address it received the request from to X-Forwarded-For, so the client is the N-th entry from the right.
    Entries further left are whatever the client chose to send, and are never trusted.
    """
    address = request.META.get("REMOTE_ADDR") or None
    hops = settings.NEXUS_TRUSTED_PROXIES
    if hops > 0:
        forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [entry for entry in forwarded if entry]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return _valid_address(address)


def _valid_address(address: str | None) -> str | None:
    # A proxy may be misconfigured or a header forged into junk: such a value must not become a cache key.
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
