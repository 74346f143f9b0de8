"""Request bodies in (JSON only, size-capped, read within a deadline, orjson; large ones one at a
time) and JSON responses out."""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from flask import Request, Response, after_this_request
from gunicorn.http.errors import ParseException

from cds_service.errors import BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from cds_service.fhir.budget import trim_freed_memory

# A client has this long to send its whole body once its headers are in: a body trickled (or
# half sent and held) ties up a worker thread only this long, never until the client gives up.
BODY_READ_SECONDS = 10.0

# A body this large (or of unknown length) takes the process's one large-body slot while it is
# read, parsed and answered: a heavily treated patient's record is 10-20 MB and its parsed JSON
# several times that, so a threaded server must not hold many at once. Smaller ones never wait.
# Meanwhile the cyclic collector is off: it would walk the parsed record (a million objects) again
# and again while the record is built and read (more than half of orjson.loads' own time on a
# 14 MB record), and there is no cycle in it: reference counting frees it once answered.
LARGE_BODY_BYTES = 1024 * 1024
_large_body_slot = threading.Lock()


@contextmanager
def body_slot(request: Request) -> Iterator[None]:
    """Hold the large-body slot for the request if its body is large; others go straight on."""
    declared = request.content_length
    if declared is not None and declared < LARGE_BODY_BYTES:
        yield
        return
    # Once the answer is sent, the pages the record took go back to the OS: glibc keeps them in
    # the arena of the thread that answered, and with 32 threads a worker kept several records'
    # worth (464 MB after the bench's heavy records, against 168-222 MB trimmed).
    after_this_request(_trim_once_sent)
    with _large_body_slot:
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if collecting:
                gc.enable()


def _trim_once_sent(response: Response) -> Response:
    response.call_on_close(trim_freed_memory)
    return response


def json_response(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def read_json(request: Request, limit: int) -> object:
    """The parsed JSON body; 415 unless declared JSON, 413 over `limit` bytes (declared or
    actually sent), 408 when not sent in time, 400 if not JSON."""
    _require_json(request)
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    # What was declared (the server never passes more), else one byte past the limit. Asking for
    # `limit` bytes whatever the body made the stream allocate a buffer that size (5 MB) on every
    # call: 0.3 ms for a 37 KB hook, 1.9 ms for 285 KB, measured inside a gunicorn worker.
    data = _read(request, declared if declared is not None else limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    if not data.strip():
        raise BadRequest("body: is empty; expected a JSON object")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body: malformed JSON ({exc})") from None


def _require_json(request: Request) -> None:
    """CDS Hooks bodies are application/json; `+json` types (application/fhir+json) are JSON too.
    A form or text/plain body is refused, whatever it holds: browsers send those cross-site
    without a CORS preflight."""
    mimetype = request.mimetype
    if mimetype != "application/json" and not (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        declared = repr(mimetype[:60]) if mimetype else "none"
        raise UnsupportedMediaType(f"Content-Type: expected application/json, got {declared}")


def _read(request: Request, size: int) -> bytes:
    """Read the body within BODY_READ_SECONDS; a broken chunked encoding is the client's error."""
    client = request.environ.get("gunicorn.socket")
    previous = client.gettimeout() if isinstance(client, socket.socket) else None
    if isinstance(client, socket.socket):
        client.settimeout(BODY_READ_SECONDS)
    try:
        return request.stream.read(size)
    except TimeoutError:
        raise RequestTimeout(
            f"body: not received within {BODY_READ_SECONDS:g} s of the headers"
        ) from None
    except ParseException as exc:  # gunicorn's chunked decoder: bad chunk size, no terminator
        raise BadRequest(f"body: unreadable ({type(exc).__name__})") from None
    finally:
        if isinstance(client, socket.socket):
            client.settimeout(previous)
