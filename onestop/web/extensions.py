"""Flask extensions, created unbound and attached in `create_app`."""

from __future__ import annotations

import os

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Shared across gunicorn workers when ONESTOP_RATELIMIT_STORAGE_URI names Redis
# (e.g. redis://127.0.0.1:6379/0); per process otherwise.
limiter = Limiter(
    key_func=get_remote_address,
    storage_uri=os.environ.get("ONESTOP_RATELIMIT_STORAGE_URI", "memory://"),
    default_limits=[],
)
