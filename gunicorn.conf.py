"""Gunicorn settings: `gunicorn -c gunicorn.conf.py` starts falcon-img.

Everything is read from the environment so one file serves a laptop, a
Heroku dyno and a fleet behind a load balancer: PORT, WEB_CONCURRENCY,
GUNICORN_THREADS, GUNICORN_TIMEOUT, FALCON_IMG_BIND.
"""

import multiprocessing
import os

wsgi_app = "falcon_img.wsgi:app"

bind = os.environ.get("FALCON_IMG_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Each worker builds its own app, so no database connection crosses a fork.
preload_app = False
# Several servers on one machine (tests, blue/green) must not fight over one socket.
control_socket_disable = True

# Limits on what a client can make the server parse before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
    },
    # Gunicorn merges this over its own defaults key by key; its default root logger
    # names a handler that "handlers" above replaces, so the root is set here too.
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "falcon_img": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
    },
}


def on_starting(server):
    """Before any worker starts: remove temporary files that killed uploads left behind."""
    from falcon_img.consistency import sweep_at_start

    try:
        removed = sweep_at_start(os.environ)
    except Exception as exc:  # a sweep must never keep the service from starting
        server.log.warning("could not sweep temporary files: %s", exc)
        return
    if removed:
        server.log.info("removed %d stale temporary file(s) of interrupted uploads", removed)
