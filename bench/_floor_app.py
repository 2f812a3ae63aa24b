"""The floor for serve_load: a minimal DRF endpoint that validates a passenger and INSERTs it.

Served by gunicorn as `bench._floor_app:application` against the same scratch database as the
project. No middleware, no model, no transaction block: one autocommit INSERT into a copy of the
inference-log table (same columns and indexes), so index upkeep and the durable commit cost what
the real log costs. It is the fastest a validating, logging endpoint could be in this stack.
"""

import os

import dj_database_url
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",  # noqa: S106 (a throwaway key for a throwaway endpoint)
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF="bench._floor_view",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    MIDDLEWARE=[],
    # The project's connection policy, so both keep one connection per worker between requests.
    DATABASES={"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)},
    USE_TZ=True,
    REST_FRAMEWORK={
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
