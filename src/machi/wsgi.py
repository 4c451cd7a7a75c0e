"""WSGI entry point (gunicorn ``machi.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "machi.settings")
application = get_wsgi_application()
