"""Which browser origins may open a signaling connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def origin_check(public_url: str) -> Callable[[str | None, dict[str, Any]], bool]:
    """Allow the configured public URL and the origin the request itself came to.

    A browser that opened the page as http://localhost:8080 sends that origin; the server's
    own host header then matches it, as it does behind a reverse proxy that keeps Host.
    Clients that send no Origin (the Python client, bots) are not browsers and pass.
    """
    allowed_public = public_url.rstrip("/")

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True
        if origin.rstrip("/") == allowed_public:
            return True
        scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http"))
        host = environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST"))
        return host is not None and origin == f"{scheme.split(',')[0].strip()}://{host}"

    return check
