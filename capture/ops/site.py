"""Serving the built site from the same process (for `make serve`).

Production puts nginx in front instead (deploy/); this keeps the quick
start to one command and one port.
"""
from pathlib import Path

from flask import Blueprint, abort, redirect, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join


def make_blueprint(site_dir: Path) -> Blueprint:
    """A blueprint answering every non-API GET from `site_dir`."""
    bp = Blueprint("site", __name__)
    root = str(site_dir.resolve())

    @bp.get("/", defaults={"path": ""})
    @bp.get("/<path:path>")
    def page(path: str):
        """A file from the built site; directories answer with their index.html."""
        if path.startswith(("api/", "desk/", "actions/")):
            abort(404)
        target = safe_join(root, path)
        if target and Path(target).is_dir():
            if path and not path.endswith("/"):
                # Relative links in the built pages need the trailing slash.
                return redirect(f"/{path.lstrip('/')}/", code=301)
            path = f"{path.rstrip('/')}/index.html".lstrip("/")
        try:
            return send_from_directory(root, path)
        except NotFound:
            return send_from_directory(root, "404.html"), 404

    return bp
