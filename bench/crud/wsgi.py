"""The CRUD service's WSGI entry point: `gunicorn bench.crud.wsgi`."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.crud.settings")
application = get_wsgi_application()
