"""`python -m womctl`."""

from womctl.cli import app

app()
