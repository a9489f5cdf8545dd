"""Serve a built site the way production does: gzip for text, caching headers, the 404 page.

    .venv/bin/python bench/lighthouse/serve.py site 8080

A stand-in for nginx (deploy/) for the Lighthouse benchmark: the same compression
(`gzip on` for HTML, CSS, JS, SVG, XML, JSON), long caching for the theme's
fingerprinted assets, and `404.html` for unknown paths. `GET /api/slots` answers
as the capture service would with an empty calendar, so the booking picker loads,
and `POST /api/views` (the page-view beacon) gets its 204.
"""
from __future__ import annotations

import gzip
import json
import mimetypes
import re
import sys
import threading
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/xml",
                "image/svg+xml", "application/rss+xml")
FINGERPRINTED = re.compile(r"\.[0-9a-f]{8}\.min\.(css|js)$")  # the theme's hashed assets


@lru_cache(maxsize=1024)
def compressed(path: Path, mtime: float) -> bytes:
    """A file's gzip body, made once per version of the file."""
    return gzip.compress(path.read_bytes(), 6)


def make_handler(root: Path):
    """A request handler serving files under `root`."""
    root = root.resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fernleaf-bench"

        def do_GET(self):
            if urlsplit(self.path).path == "/api/slots":
                return self.slots()
            self.respond(send_body=True)

        def do_POST(self):
            # The page-view beacon: the capture service answers 204, and so does this stand-in.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204 if urlsplit(self.path).path == "/api/views" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def slots(self):
            """What the capture API answers the booking picker (its rules, an empty calendar)."""
            body = free_slots_json()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "public, max-age=5")
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            self.respond(send_body=False)

        def resolve(self) -> tuple[Path | None, str | None]:
            """(file, redirect location) for the request path."""
            path = unquote(urlsplit(self.path).path)
            target = (root / path.lstrip("/")).resolve()
            if root not in target.parents and target != root:
                return None, None
            if target.is_dir():
                if not path.endswith("/"):
                    return None, path + "/"
                target = target / "index.html"
            return (target if target.is_file() else None), None

        def respond(self, send_body: bool):
            target, location = self.resolve()
            if location:
                self.send_response(301)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 200
            if target is None:
                status, target = 404, root / "404.html"
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith(("xml", "json", "javascript")):
                ctype += "; charset=utf-8"
            body = target.read_bytes()
            gzipped = (ctype.startswith(COMPRESSIBLE) and
                       "gzip" in self.headers.get("Accept-Encoding", ""))
            if gzipped:
                body = compressed(target, target.stat().st_mtime)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Vary", "Accept-Encoding")
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            immutable = bool(FINGERPRINTED.search(target.name))
            self.send_header("Cache-Control", "public, max-age=31536000, immutable" if immutable
                             else "public, max-age=600")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    return Handler


@lru_cache(maxsize=1)
def free_slots_json() -> bytes:
    """The next week's free consultation times by sales.yml's rules, as GET /api/slots has them."""
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    from capture.booking.slots import free_slots
    from capture.schema.sales import load_sales
    zone = ZoneInfo("Europe/London")
    sales = load_sales(repo / "sales.yml", zone)
    now = datetime.now(timezone.utc)
    slots = free_slots(sales, [], now.astimezone(zone).date(), 7, now)
    return json.dumps({"timezone": zone.key, "length_minutes": int(sales.consultation.length.total_seconds() // 60),
                       "slots": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in slots]}).encode()


def start(root: Path, port: int = 0) -> ThreadingHTTPServer:
    """Serve `root` on 127.0.0.1:`port` (0: any free port) from a background thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(root))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    server = start(folder, int(sys.argv[2]) if len(sys.argv) > 2 else 8080)
    print(f"Serving {folder} gzipped at http://127.0.0.1:{server.server_port}/ (Ctrl+C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
