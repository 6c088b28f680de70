"""/agent: the field agents' phone app (a static progressive web app in dashboards/agent_app/).

The files are served as they are, with no build step. The app logs in with its own token
(/api/agent/login), so these routes need no session cookie: they serve only the empty shell, never data.

What the responses carry, and why:

* a strict Content-Security-Policy: every byte comes from this server (no CDN), no inline script or
  style, the page cannot be framed; images may also come from the basemap's tiles origin
  (AKIG_TILES_URL) when tiles are on;
* `Cache-Control: no-cache` and an ETag: the service worker owns the caching (cache-first, one cache per
  version of the shell); the browser revalidates with If-None-Match and gets a 304 of a few bytes;
* gzip when the phone accepts it (the files are compressed once, then kept): data is costly;
* sw.js gets `Service-Worker-Allowed: /agent` (the worker lives at /agent/sw.js but controls /agent,
  the page's own address) and the shell's version: a hash of every file, so that any change of the app
  makes phones fetch the new shell, without a version number to remember to bump.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from tornado.web import RequestHandler

from akig_data import config

PATH = "/agent"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".png": "image/png",
}
COMPRESSIBLE = {".html", ".js", ".css", ".webmanifest"}
VERSION_MARK = b"{{shell_version}}"   # in sw.js, replaced by the shell's hash


def app_folder() -> Path:
    return Path(str(resources.files("dashboards") / "agent_app"))


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: str


class Shell:
    """The app's files, read once and kept with their gzip form; read again when a file changes on disk
    (a developer editing the app sees the change at the next reload)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._files: dict[str, StaticFile] = {}
        self.version = ""

    def _current_stamp(self) -> tuple:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self._paths()))

    def _paths(self) -> list[Path]:
        return [p for p in self.folder.iterdir() if p.is_file() and p.suffix in CONTENT_TYPES]

    def files(self) -> dict[str, StaticFile]:
        stamp = self._current_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._load()
                self._stamp = stamp
            return self._files

    def _load(self) -> None:
        raw = {p.name: p.read_bytes() for p in sorted(self._paths())}
        digest = hashlib.sha256()
        for name, body in raw.items():
            digest.update(name.encode() + b"\0" + body + b"\0")
        self.version = digest.hexdigest()[:16]
        files = {}
        for name, body in raw.items():
            if name == "sw.js":
                body = body.replace(VERSION_MARK, self.version.encode())
            suffix = Path(name).suffix
            gzipped = gzip.compress(body, 9, mtime=0) if suffix in COMPRESSIBLE else None
            files[name] = StaticFile(body, gzipped, CONTENT_TYPES[suffix])
        self._files = files


_shell: Shell | None = None


def shell() -> Shell:
    global _shell
    if _shell is None:
        _shell = Shell(app_folder())
    return _shell


def tiles_origin(tiles_url: str) -> str | None:
    """The origin the basemap's tiles come from, for img-src: None when tiles are off or on this server.
    A `{s}` subdomain placeholder becomes a wildcard (a.tile…, b.tile…)."""
    if not tiles_url or tiles_url.lower() == "off" or tiles_url.startswith("/"):
        return None
    parts = urlsplit(tiles_url.replace("{s}", "subdomain"))
    host = parts.netloc.replace("subdomain", "*")
    return f"{parts.scheme}://{host}"


def content_security_policy(tiles_url: str) -> str:
    origin = tiles_origin(tiles_url)
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:" + (f" {origin}" if origin else ""),
        "manifest-src 'self'",
        "worker-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


class AgentAppHandler(RequestHandler):
    """GET /agent (the page) and /agent/NAME (its files). No cookie is read and nothing is personal."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", content_security_policy(config.load().tiles_url))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-cache")

    def get(self, name: str | None = None) -> None:
        files = shell().files()
        static = files.get(name or "index.html")
        if static is None:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("Fichier introuvable.\n")
            return
        self.set_header("Content-Type", static.content_type)
        if name == "sw.js":
            self.set_header("Service-Worker-Allowed", PATH)
        body = static.body
        if static.gzipped is not None:
            self.set_header("Vary", "Accept-Encoding")
            if "gzip" in self.request.headers.get("Accept-Encoding", ""):
                self.set_header("Content-Encoding", "gzip")
                body = static.gzipped
        # Tornado adds the ETag (a hash of the body), answers 304 to a matching If-None-Match, and sends
        # no body to a HEAD.
        self.finish(body)

    head = get


def routes() -> list[tuple]:
    return [
        (r"/agent/?", AgentAppHandler),
        (r"/agent/([A-Za-z0-9_-]+\.(?:html|js|css|webmanifest|png))", AgentAppHandler),
    ]
