"""WSGI entry point: `gunicorn onestop.wsgi:app`."""

from onestop.web import create_app

app = create_app()
