"""The ASGI layer of ``pitot-tf serve``: request bytes bounded before MLflow's app reads them.

MLflow's scoring app reads a whole body into memory, whatever its size, and then parses it.
:class:`RequestGuard` sits in front of it, in every worker, and for ``POST /invocations``

* answers 415 for a content type other than JSON and 413 for a ``Content-Length`` over
  the body limit, without reading the body;
* answers 503 when the worker is already answering ``max_concurrent_requests`` requests;
* reads the body chunk by chunk and answers 413 as soon as it passes the limit (a chunked
  body has no ``Content-Length``), so memory per request is bounded by the limit;
* answers 400 for JSON nested deeper than the limit;

then answers it itself with a :class:`~pitot_tf.serving.direct.DirectScorer` where one is
given and it takes the request (small bodies on the event loop, where they take well under a
millisecond; larger ones in a thread, answered 504 after MLflow's request timeout), else
hands the body to MLflow's app. Every refusal is one line of JSON,
``{"error_code": "BAD_REQUEST", "message": ...}``, as MLflow's own errors are. A request
counts against the concurrency limit until its answer is sent. Other paths (``/ping``,
``/health``, ``/version``) pass through untouched.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT

from pitot_tf.serving.body_checks import Refusal, body_refusal, size_refusal, type_refusal
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.mlflow_guard import CHECKED

if TYPE_CHECKING:
    from pitot_tf.serving.direct import DirectScorer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Bodies larger than this are checked in a thread, leaving the worker's event loop free.
OFF_LOOP_BYTES = 256 * 1024


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case), decoded as Latin-1, or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def respond(send: Send, refusal: Refusal) -> None:
    """Send ``refusal`` as a complete JSON response."""
    body = json.dumps({"error_code": "BAD_REQUEST", "message": refusal.message}).encode()
    await send_json(send, refusal.status, body)


async def send_json(send: Send, status: int, body: bytes) -> None:
    """Send ``body`` (JSON) as a complete response."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def length_refusal(scope: Scope, limits: Limits) -> Refusal | None:
    """400 for a ``Content-Length`` that is not a whole number, 413 for one over the limit."""
    length = header(scope, b"content-length")
    if length is None:
        return None
    if not length.strip().isdigit():
        return Refusal(400, f"Content-Length must be a whole number, got {length[:40]!r}")
    return size_refusal(int(length), limits)


async def read_body(receive: Receive, limits: Limits) -> bytes | Refusal | None:
    """The whole body, a 413 refusal as soon as it passes the limit, or None if the client
    went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limits.max_body_bytes:
            return size_refusal(size, limits)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class RequestGuard:
    """``app`` (MLflow's scoring app) behind the checks of the module docstring; ``direct``
    answers the requests it takes without the app."""

    def __init__(self, app: ASGIApp, limits: Limits, direct: DirectScorer | None = None,
                 timeout_s: float | None = None) -> None:
        self.app = app
        self.limits = limits
        self.direct = direct
        self.timeout_s = timeout_s if timeout_s is not None else float(
            MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get())
        self.active = 0  # requests in progress in this worker (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != "/invocations" or (
                scope.get("method") != "POST"):
            await self.app(scope, receive, send)
            return
        content_type = header(scope, b"content-type")
        refusal = type_refusal(content_type) or length_refusal(scope, self.limits)
        if refusal is None and self.active >= self.limits.max_concurrent_requests:
            refusal = Refusal(503, f"this worker is already answering {self.active} requests "
                                   f"(PITOT_SERVE_MAX_CONCURRENT_REQUESTS); retry")
        if refusal is not None:
            await respond(send, refusal)
            return
        self.active += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.active -= 1

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()  # answered: the client may send its next request now
            await send(message)

        try:
            await self.checked(scope, receive, sending, content_type)
        finally:
            release()

    async def checked(self, scope: Scope, receive: Receive, send: Send,
                      content_type: str | None) -> None:
        """Read the body within the limit, check it, and hand it to the app."""
        body = await read_body(receive, self.limits)
        if body is None:
            return
        if isinstance(body, Refusal):
            refusal: Refusal | None = body
        elif len(body) > OFF_LOOP_BYTES:  # a scan of a few MB: not on the event loop
            refusal = await asyncio.to_thread(body_refusal, body, content_type, self.limits)
        else:
            refusal = body_refusal(body, content_type, self.limits)
        if refusal is not None:
            await respond(send, refusal)
            return
        assert isinstance(body, bytes)
        if self.direct is not None and await self.answered(body, content_type, send):
            return
        given = False

        async def replay() -> Message:
            nonlocal given
            if given:
                return await receive()  # after the body: wait for the client to go away
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        token = CHECKED.set(True)
        try:
            await self.app(scope, replay, send)
        finally:
            CHECKED.reset(token)

    async def answered(self, body: bytes, content_type: str | None, send: Send) -> bool:
        """Answer ``body`` with the direct scorer if it takes it; False to hand it on."""
        assert self.direct is not None
        if len(body) <= OFF_LOOP_BYTES:
            reply = self.direct.reply(body, content_type)
        else:
            try:
                reply = await asyncio.wait_for(
                    asyncio.to_thread(self.direct.reply, body, content_type), self.timeout_s)
            except (asyncio.TimeoutError, TimeoutError):
                await respond(send, Refusal(504, (
                    f"the request took longer than {self.timeout_s:g} s "
                    f"(MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT)")))
                return True
        if reply is None:
            return False
        await send_json(send, reply.status, reply.body)
        return True
