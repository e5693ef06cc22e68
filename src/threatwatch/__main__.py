"""`python -m threatwatch ...` runs the CLI."""

from .cli import app

app()
