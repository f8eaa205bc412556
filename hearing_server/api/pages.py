"""Browser pages: the join page for every role, its static assets and the socket.io client.

Routes (all GET, no authentication: the join token stays in the URL fragment, which the browser
never sends; the page hands it to the API and to signaling itself):

- ``/join``: the one page every join link opens (``/join#token=...``). Its script asks
  ``/api/me`` who the token belongs to and shows the participant flow, the judge/clerk console
  or the courtroom display. ``/console`` and ``/display`` serve the same page (the role decides
  the view in every case; the names only make bookmarks readable).
- ``/static/...``: ``web_client/static`` (HTML, CSS, ES modules, the i18n catalogue).
- ``/vendor/socket.io/...``: the socket.io client from ``web_client/node_modules`` (npm ci);
  ``/vendor/signature_pad/...``: signature_pad (drawn signatures on a mediation agreement);
  ``/vendor/hls.js/...``: hls.js (the public livestream's player, ``api/livestream.py``).

Every response under these paths carries a strict Content-Security-Policy (scripts only from
this origin, no inline code) and the usual hardening headers.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

# The checkout's web_client/ (hearing_server/api/pages.py -> repository root).
DEFAULT_WEB_CLIENT_DIR = Path(__file__).resolve().parents[2] / "web_client"

PAGE_PATHS = ("/join", "/console", "/display", "/board", "/calendar")
# The party's slot-picking page (``/pick#token=...``): a page of its own, no hearing room.
PICK_PATH = "/pick"
_PREFIXES = ("/static/", "/vendor/")
# Each vendored package: where npm puts its build, and only the files the page loads (and
# their source maps), not the whole package.
_VENDOR: dict[str, tuple[Path, frozenset[str]]] = {
    "socket.io": (
        Path("node_modules") / "socket.io-client" / "dist",
        frozenset(
            {
                "socket.io.esm.min.js",
                "socket.io.esm.min.js.map",
                "socket.io.min.js",
                "socket.io.min.js.map",
            }
        ),
    ),
    "signature_pad": (
        Path("node_modules") / "signature_pad" / "dist",
        frozenset({"signature_pad.min.js", "signature_pad.min.js.map"}),
    ),
    # The public watch page's player (HLS over Media Source Extensions).
    "hls.js": (
        Path("node_modules") / "hls.js" / "dist",
        frozenset({"hls.min.js", "hls.min.js.map"}),
    ),
}


def content_security_policy(host: str) -> str:
    """The policy for our pages: everything from this origin, media from local streams.

    ``connect-src`` names the websocket origin explicitly: older browsers do not let
    ``'self'`` match ``ws:``/``wss:``.
    """
    ws = f"ws://{host} wss://{host}" if host else ""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            f"connect-src 'self' {ws}".strip(),
            "media-src 'self' blob: mediastream:",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Camera, microphone and screen capture (a shared screen is evidence) for this origin
    # only; nothing else a hearing page needs.
    "Permissions-Policy": (
        "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), "
        "usb=()"
    ),
}


def _is_page_path(path: str) -> bool:
    return path in PAGE_PATHS or path == PICK_PATH or path.startswith(_PREFIXES)


# The API's answers: never sniffed into something else, never stored by a browser or a proxy
# on the way (they hold people's names, ID checks, transcripts), no referrer sent from them.
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: harden every response of the pages and of the API."""
    if request.path.startswith("/api/"):
        for name, value in API_HEADERS.items():
            response.headers.setdefault(name, value)  # a download may say how it is cached
        return
    if not _is_page_path(request.path):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    if request.path in PAGE_PATHS or request.path == PICK_PATH:
        response.headers["Cache-Control"] = "no-store"
    else:
        # Revalidate every time (Last-Modified / ETag): a new release is picked up at once.
        response.headers.setdefault("Cache-Control", "no-cache")


def setup_pages(app: web.Application, web_client_dir: Path | None = None) -> None:
    """Register the pages, static assets and vendored client; add the security headers."""
    root = (web_client_dir or DEFAULT_WEB_CLIENT_DIR).resolve()
    static = root / "static"
    page = static / "join.html"
    if not page.is_file():
        raise RuntimeError(f"web client not found: {page} is not a file")

    async def join_page(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(page)

    async def pick_page(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(static / "pick.html")

    async def vendor_file(request: web.Request) -> web.StreamResponse:
        package = _VENDOR.get(request.match_info["package"])
        name = request.match_info["name"]
        if package is None or name not in package[1]:
            raise web.HTTPNotFound()
        path = root / package[0] / name
        if not path.is_file():
            return web.Response(
                status=503,
                text="browser dependencies are not installed: run `npm ci` in web_client/\n",
                content_type="text/plain",
            )
        return web.FileResponse(path)

    for path in PAGE_PATHS:
        app.router.add_get(path, join_page)
    app.router.add_get(PICK_PATH, pick_page)
    app.router.add_get("/vendor/{package}/{name}", vendor_file)
    app.router.add_static("/static/", static, show_index=False, follow_symlinks=False)
    app.on_response_prepare.append(_security_headers)
