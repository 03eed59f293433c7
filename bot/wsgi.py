"""WSGI entry point for a production server: `gunicorn -k gthread --threads 8 bot.wsgi:app`."""

from bot.app import create_app, freeze_startup_objects

app = create_app()
freeze_startup_objects()
