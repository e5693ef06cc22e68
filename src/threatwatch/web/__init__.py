"""The review desk: web pages and REST API over the store (FastAPI)."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Lazy import so `import threatwatch.web` stays cheap for the CLI."""
    from .app import create_app as _create

    return _create(*args, **kwargs)
