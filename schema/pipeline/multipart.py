"""File uploads: the GraphQL multipart request specification (github.com/jaydenseric/graphql-multipart-request-spec).

A ``POST`` with ``Content-Type: multipart/form-data`` carries an ``operations`` field (the JSON of one operation,
or of a batch, with ``null`` where each file goes), a ``map`` field (``{"0": ["variables.file"]}``: which
variables each file part fills) and the file parts, named by the map's keys. The files reach the resolvers as
the ``Upload`` scalar's values (schema/core/scalars.py); the rest of the request runs like a JSON body.

Refusals, before the request reaches the GraphQL steps (``multipart_refusal``):

- a request whose declared length is over ``NEXUS_UPLOAD_MAX_BYTES`` plus the document limit is refused before
  any of it is read, and a file part over ``NEXUS_UPLOAD_MAX_BYTES`` after it was: 413, ``UPLOAD_TOO_LARGE``
  (Django reads no more of a body than its declared length);
- a malformed ``operations`` or ``map`` (not JSON, a path that leads nowhere or outside ``variables``, a file
  part missing): 400, ``BAD_REQUEST``. ``operations`` itself counts against the document limit.

Only ``POST`` bodies are read this way (a ``GET`` has no body). Cross-site requests: an HTML form on any site may
post ``multipart/form-data`` without a preflight, but it cannot set the ``Authorization`` header, the only
credential of the API: such a request runs anonymously. A request with the token cookie (cookie mode) passes the
view's CSRF check like any other (schema/pipeline/view.py); the check reads its body after the size check here.
"""

import json
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http.multipartparser import MultiPartParserError

from schema.pipeline import limits

_OPERATIONS = "_nexus_multipart_operations"


def is_multipart(request) -> bool:
    return request.method == "POST" and request.content_type == "multipart/form-data"


def multipart_refusal(request) -> tuple[int, str, str] | None:
    """(status, message, code) refusing a multipart request, or None: then its operations, files in place, are
    what ``form_body`` answers."""
    if not is_multipart(request):
        return None
    upload_limit = settings.NEXUS_UPLOAD_MAX_BYTES
    document_limit = limits.Limits.from_settings().max_document_bytes
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > upload_limit + document_limit:
        return 413, f"The upload is {declared} bytes; a file may take at most {upload_limit}.", "UPLOAD_TOO_LARGE"
    try:
        fields, files = request.POST, request.FILES
    except RequestDataTooBig:
        return 413, "The form fields of the request are too large.", "DOCUMENT_TOO_LARGE"
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as problem:
        return 400, f"The multipart body cannot be read: {problem}", "BAD_REQUEST"
    if "operations" not in fields:
        return None  # a form post of `query` and `variables`, read as before
    for name, upload in files.items():
        if upload.size > upload_limit:
            return (
                413,
                f"The file {name!r} is {upload.size} bytes; at most {upload_limit} are accepted.",
                ("UPLOAD_TOO_LARGE"),
            )
    if len(fields["operations"].encode()) > document_limit:
        return 413, f"`operations` may take at most {document_limit} bytes.", "DOCUMENT_TOO_LARGE"
    try:
        operations = json.loads(fields["operations"])
        file_map = json.loads(fields.get("map", "{}"))
    except ValueError:
        return 400, "`operations` and `map` must be JSON.", "BAD_REQUEST"
    if not isinstance(operations, Mapping | list) or not isinstance(file_map, Mapping):
        return 400, "`operations` must be a JSON object or array, `map` a JSON object.", "BAD_REQUEST"
    for name, paths in file_map.items():
        if name not in files:
            return 400, f"The map names a file part {name!r} that the request does not hold.", "BAD_REQUEST"
        if not isinstance(paths, list) or not paths:
            return 400, f"The map's entry {name!r} must list where the file goes.", "BAD_REQUEST"
        for path in paths:
            if not _put(operations, path, files[name]):
                return 400, f"The map's path {path!r} leads to no variable of the operations.", "BAD_REQUEST"
    setattr(request, _OPERATIONS, operations)
    return None


def form_body(request):
    """The body of a form post: a multipart request's operations with its files in place, or the form fields."""
    operations = getattr(request, _OPERATIONS, None)
    return operations if operations is not None else request.POST


def operations_size(request) -> int:
    """What of a multipart request counts against the document limit: its form fields but the files."""
    return sum(len(key.encode()) + sum(len(v.encode()) for v in request.POST.getlist(key)) for key in request.POST)


def _put(operations, path, upload) -> bool:
    """Put ``upload`` at the object path (``variables.file``, ``0.variables.files.1``) of ``operations``; False
    when it leads outside the variables of an operation, or nowhere."""
    if not isinstance(path, str):
        return False
    keys = path.split(".")
    if isinstance(operations, list):
        if not keys[0].isdigit() or int(keys[0]) >= len(operations):
            return False
        operations, keys = operations[int(keys[0])], keys[1:]
    if len(keys) < 2 or keys[0] != "variables" or not isinstance(operations, Mapping):
        return False
    target = operations
    for key in keys[:-1]:
        target = _step(target, key)
        if target is None:
            return False
    last = keys[-1]
    if isinstance(target, dict) and last in target:
        target[last] = upload
        return True
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        target[int(last)] = upload
        return True
    return False


def _step(container, key: str):
    if isinstance(container, dict):
        found = container.get(key)
    elif isinstance(container, list) and key.isdigit() and int(key) < len(container):
        found = container[int(key)]
    else:
        return None
    return found if isinstance(found, dict | list) else None
