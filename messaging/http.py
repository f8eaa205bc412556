"""An SMS gateway's HTTP API: POST a JSON body made from a template, with an auth header.

The template is JSON in which any string may hold ``{recipient}``, ``{subject}``, ``{text}``
and ``{key}`` (the message's idempotency key, also sent as the ``Idempotency-Key`` header so a
gateway can drop a repeat); they are substituted inside the parsed structure, so a message
with quotes or newlines cannot break the JSON. Any 2xx answer means the gateway took the message.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from .base import Message, Receipt, SendError

_PLACEHOLDERS = ("{recipient}", "{subject}", "{text}", "{key}")


def render_template(template: Any, message: Message) -> Any:
    """``template`` (parsed JSON) with the placeholders in its strings filled in."""
    if isinstance(template, str):
        out = template
        for key, value in zip(
            _PLACEHOLDERS,
            (message.recipient, message.subject, message.text, message.key),
            strict=True,
        ):
            out = out.replace(key, value)
        return out
    if isinstance(template, list):
        return [render_template(item, message) for item in template]
    if isinstance(template, dict):
        return {k: render_template(v, message) for k, v in template.items()}
    return template


def parse_header(header: str | None) -> dict[str, str]:
    """``"Name: value"`` as a header dict (empty for None or blank)."""
    if not header or not header.strip():
        return {}
    name, sep, value = header.partition(":")
    if not sep or not name.strip():
        raise ValueError("the auth header must look like 'Name: value'")
    return {name.strip(): value.strip()}


class HttpSender:
    """POSTs each message to ``url`` as the rendered ``body_template``."""

    name = "http"

    def __init__(
        self,
        *,
        url: str,
        body_template: str,
        auth_header: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must start with http:// or https://")
        try:
            self._template = json.loads(body_template)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the SMS gateway body template is not JSON: {exc}") from exc
        self._url = url
        self._headers = parse_header(auth_header)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: Message) -> Receipt:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = render_template(self._template, message)
        try:
            headers = dict(self._headers)
            if message.key:
                headers["Idempotency-Key"] = message.key
            async with self._session.post(self._url, json=body, headers=headers) as resp:
                text = (await resp.text(errors="replace"))[:500]
                if 200 <= resp.status < 300:
                    return Receipt(self.name, text or str(resp.status))
                # 4xx other than throttling means the request itself is wrong: retrying the
                # same request cannot help.
                retryable = resp.status >= 500 or resp.status in (408, 429)
                raise SendError(
                    f"the SMS gateway answered {resp.status}: {text}", retryable=retryable
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"the SMS gateway {self._url} is unreachable: {exc!r}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
