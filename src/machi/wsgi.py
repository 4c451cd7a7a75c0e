"""WSGI entry point (gunicorn ``machi.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

from machi.var_dir import prepare_var_dir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "machi.settings")
prepare_var_dir()  # owner-only var/ (the settings write nothing when imported)
application = get_wsgi_application()
