"""Storage locations as they may be shown: passwords hidden, for logs, tags and MLflow params.

A bottom-layer helper: search, sweeps and the command line all print where a study or a
tracking store lives, and none of them may print its password.
"""

from __future__ import annotations


def redact(location: str) -> str:
    """``location`` with any password in its URL replaced by ``***``; a path is unchanged."""
    if "://" not in location:
        return location
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(location).render_as_string(hide_password=True)
    except ArgumentError:
        return location
