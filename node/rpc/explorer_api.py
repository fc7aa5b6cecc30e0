"""The explorer: the static page at ``/`` and its files under ``/explorer/``, shipped in the package.

Nothing is fetched from elsewhere (the Content-Security-Policy says so to the browser
too): the page reads the node's own JSON API and its websocket feed. Only the files in
the package directory are served, by exact name, so no path reaches another file.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from .errors import not_found

STATIC_DIR = Path(__file__).with_name("explorer")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in _TYPES}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _file_response(path: Path) -> web.Response:
    response = web.Response(body=path.read_bytes(), content_type=_TYPES[path.suffix], charset="utf-8")
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


async def get_index(request: web.Request) -> web.Response:
    return _file_response(_FILES["index.html"])


async def get_explorer_file(request: web.Request) -> web.Response:
    path = _FILES.get(request.match_info["name"])
    if path is None:
        raise not_found(f"explorer file {request.match_info['name']!r}")
    return _file_response(path)
