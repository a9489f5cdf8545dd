"""Gunicorn settings for the capture service.

Run as `gunicorn -c deploy/gunicorn.conf.py` from the repository folder (the
systemd unit deploy/systemd/fernleaf-web.service does exactly that, and so do
the end-to-end tests). The app itself is configured only by CAPTURE_*
variables; two more variables say how gunicorn runs it on this machine:

  GUNICORN_BIND     where nginx reaches it: host:port or unix:/path
                    (default 127.0.0.1:8000; must match API_UPSTREAM of the
                    rendered nginx config)
  WEB_CONCURRENCY   worker processes (default: 2 x cores + 1, at most 8)
"""
import multiprocessing
import os

wsgi_app = "capture:create_app()"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

# nginx buffers requests and answers, so slow clients never hold a worker and
# plain synchronous workers are the right kind; a lead costs one short transaction.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
timeout = 30
graceful_timeout = 20
# Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory: a busy disk must not get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Only nginx on this machine may tell gunicorn the original scheme.
forwarded_allow_ips = "127.0.0.1,::1"

# Logs to standard output/error: journald (systemd) keeps and rotates them.
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The visitor's address as nginx saw it, not nginx's own.
# No query strings and no link tokens in the access log (capture/accesslog.py).
logger_class = "capture.ops.accesslog.RedactingLogger"
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

proc_name = "fernleaf-capture"
# systemd manages the process; no gunicornc control socket (it would be shared
# between instances under one $HOME).
control_socket_disable = True
