"""The production topology on loopback, started from the files in deploy/.

Nothing here restates the deployment: the nginx configs are rendered from
deploy/nginx/*.conf.in by deploy/render.py, gunicorn and the mail worker run
the ExecStart commands of deploy/systemd/*.service (with /srv/fernleaf
replaced by this checkout), and their environment starts from
deploy/env.example, overriding only what a test must (database, SMTP server,
secret, ports). The one test-only piece is nginx's main file (nginx.conf),
the counterpart of Debian's /etc/nginx/nginx.conf, which includes the
rendered site configs exactly as sites-enabled/ would.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path
from threading import Lock

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/srv/fernleaf"  # where the units and the README put the checkout
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")


def _load_render():
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_render()


def free_port() -> int:
    """A loopback TCP port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- what deploy/ says -------------------------------------------------------

def unit_command(unit: str) -> tuple[list[str], dict[str, str]]:
    """A systemd unit's ExecStart (as argv, paths moved to this checkout) and Environment= values."""
    argv, env = None, {}
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == "ExecStart":
            argv = [_here(word) for word in shlex.split(value)]
        elif key == "Environment":
            name, _, val = value.partition("=")
            env[name] = val
    if argv is None:
        raise ValueError(f"deploy/systemd/{unit} has no ExecStart")
    return argv, env


def _here(word: str) -> str:
    """/srv/fernleaf/... as this checkout; its .venv/bin, if elsewhere, as the running Python's."""
    if not word.startswith(INSTALL_DIR):
        return word
    path = Path(str(ROOT) + word[len(INSTALL_DIR):])
    if path.parent == ROOT / ".venv" / "bin" and not path.exists():
        return str(BIN / path.name)
    return str(path)


def deploy_env(**overrides: str) -> dict[str, str]:
    """The process environment: this one without CAPTURE_*, then deploy/env.example, then overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTURE_")}
    env.update({k: v for k, v in dotenv_values(DEPLOY / "env.example").items() if v is not None})
    env["CAPTURE_DIGEST"] = "0"  # the journeys count messages; the digest has its own tests
    env.update(overrides)
    return env


def build_site(out: Path, site_url: str, api_url: str = "") -> Path:
    """`make site`'s build (mkdocs --strict) with the README's build-time variables, into `out`."""
    env = {**os.environ, "SITE_URL": site_url, "CAPTURE_API_URL": api_url,
           "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    result = subprocess.run([str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"site build failed:\n{result.stdout}\n{result.stderr}")
    return out


# --- processes -----------------------------------------------------------------

class Service:
    """A background process with its output in a log file; stop() ends its whole group."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, cwd: Path = ROOT):
        self.name, self.log = name, log
        self._out = open(log, "ab")
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until(self, ready, timeout: float = 30.0) -> None:
        """Poll `ready()` until true; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        """The last lines of the process's output."""
        self._out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful for gunicorn, nginx and the worker), then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()


def http_ok(url: str) -> bool:
    """True when GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_web(env: dict, port: int, logs: Path) -> Service:
    """gunicorn as fernleaf-web.service runs it, bound to 127.0.0.1:`port`."""
    argv, unit_env = unit_command("fernleaf-web.service")
    env = {**unit_env, **env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    web = Service("gunicorn", argv, env, logs / f"gunicorn-{port}.log")
    web.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/api/health"), timeout=60)
    return web


def start_worker(env: dict, logs: Path) -> Service:
    """The standalone mail worker as fernleaf-worker.service runs it."""
    argv, unit_env = unit_command("fernleaf-worker.service")
    worker = Service("mail worker", argv, {**unit_env, **env}, logs / "worker.log")
    worker.wait_until(lambda: "started" in worker.log.read_text(errors="replace"), timeout=60)
    return worker


class Nginx(Service):
    """Debian's nginx with the rendered deploy/nginx templates as its sites."""

    def __init__(self, workdir: Path, sites: list[tuple[str, dict]]):
        self.dir = workdir
        sites_dir = workdir / "sites-enabled"
        for sub in ("sites-enabled", "temp"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.ports = []
        for index, (template, values) in enumerate(sites):
            text = render.render(DEPLOY / "nginx" / template, values)
            (sites_dir / f"{index}-{template.removesuffix('.in')}").write_text(text)
            self.ports.append(int(values["LISTEN"].rsplit(":", 1)[-1]))
        (workdir / "nginx.conf").write_text(self.main_conf(workdir))
        super().__init__("nginx", [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"),
                                   "-e", str(workdir / "error.log")],
                         dict(os.environ), workdir / "nginx.out")
        self.wait_until(lambda: all(_listening(p) for p in self.ports), timeout=15)

    @staticmethod
    def main_conf(workdir: Path) -> str:
        """The counterpart of Debian's /etc/nginx/nginx.conf, with every path in `workdir`."""
        # As root, nginx's workers would otherwise run as nobody, who cannot read pytest's tmp dirs.
        user = "user root root;" if os.geteuid() == 0 else ""
        temp = workdir / "temp"
        return f"""{user}
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log {workdir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {workdir}/sites-enabled/*;
}}
"""

    def tail(self, lines: int = 40) -> str:
        error_log = self.dir / "error.log"
        extra = error_log.read_text(errors="replace") if error_log.exists() else ""
        return super().tail(lines) + "\n" + "\n".join(extra.splitlines()[-lines:])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- the SMTP server the worker delivers to -------------------------------------

class Inbox:
    """What an aiosmtpd server received: parsed messages with their envelopes."""

    def __init__(self):
        self.messages: list = []
        self._lock = Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_to = list(envelope.rcpt_tos)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def find(self, predicate) -> list:
        """The messages received so far that satisfy `predicate`."""
        with self._lock:
            return [m for m in self.messages if predicate(m)]

    def wait_for(self, predicate, count: int = 1, timeout: float = 30.0) -> list:
        """Wait until `count` matching messages arrived; return them (fewer on time-out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(predicate)
            if len(found) >= count:
                return found
            time.sleep(0.2)
        return self.find(predicate)
