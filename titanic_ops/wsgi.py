"""WSGI entry point (gunicorn titanic_ops.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "titanic_ops.settings")

application = get_wsgi_application()
