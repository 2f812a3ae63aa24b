"""WSGI entry point (gunicorn titanic_ops.wsgi): the web process, which never loads Spark."""

import os

from django.core.wsgi import get_wsgi_application

from titanic_ops.web_guard import block_spark_imports

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "titanic_ops.settings")
block_spark_imports()

application = get_wsgi_application()
