"""Lone surrogates: JSON may escape half of a UTF-16 pair (``"\\ud800"``), which Python
decodes into a ``str`` no encoder, tokenizer or database driver accepts.

``LoneSurrogates`` refuses such a JSON body with a 422 before any route sees it (it
would otherwise fail deep inside, a 500); webhooks, whose bodies are signed and must be
checked first, take ``without_surrogates`` instead, which turns each into U+FFFD.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.errors import ApiError, error_response

__all__ = ["LoneSurrogates", "surrogate_at", "without_surrogates"]

_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON escape of a surrogate (a pair is decoded into one character; half of one is not).
_ESCAPED = re.compile(rb"\\u[dD][89a-fA-F]")


def surrogate_at(value: object, where: str = "") -> str | None:
    """The dotted path of the first string (or key) of ``value`` holding a lone
    surrogate; None when there is none."""
    if isinstance(value, str):
        return where if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if _SURROGATE.search(str(key)):
                return path
            if (found := surrogate_at(item, path)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = surrogate_at(item, f"{where}.{index}" if where else str(index))
            if found is not None:
                return found
    return None


def without_surrogates(value: object) -> object:
    """``value`` (decoded JSON) with each lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_surrogates(item) for item in value]
    return value


class LoneSurrogates:
    """ASGI middleware: a JSON body holding a lone surrogate gets a 422
    (``invalid_text``) in the usual shape. Only bodies that escape a surrogate at all
    are decoded here (a pair, an emoji, is fine); ``skip`` lists path prefixes left to
    their route (signed webhooks)."""

    def __init__(self, app: ASGIApp, *, skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if b"json" not in content_type.lower():
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        try:
            while True:
                message = await receive()
                messages.append(message)
                body += message.get("body", b"")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        except ApiError as error:  # BodySizeLimit's 413: no route is there to answer it
            response = error_response(error.status_code, error.detail, code=error.code)
            await response(scope, receive, send)
            return
        where = None
        if _ESCAPED.search(body):
            try:
                where = surrogate_at(json.loads(body))
            except ValueError:
                where = None  # not JSON: the route says so (400)
        if where is not None:
            place = f" in '{where}'" if where else ""
            response = error_response(
                422,
                f"The request holds text that is not valid Unicode{place}: a lone UTF-16 "
                "surrogate (such as \\ud800). Send the text as UTF-8.",
                code="invalid_text",
                param=where or None,
            )
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
