"""A PostgreSQL server for storage tests, named by ``$PITOT_TEST_POSTGRES_URL``.

CI (``$CI`` set) starts one and must provide the URL, so there a missing URL fails the test;
elsewhere the test is skipped. The URL looks like postgresql://pitot:pitot@127.0.0.1:5432/pitot.
"""

from __future__ import annotations

import os

import pytest

ENV = "PITOT_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The server's URL; skip (fail under CI) when it is not configured or not answering."""
    url = os.environ.get(ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{ENV} is not set; CI must start PostgreSQL and export it")
        pytest.skip(f"{ENV} is not set")
    import sqlalchemy

    from pitot_tf.search.storage import database_url

    try:
        with sqlalchemy.create_engine(database_url(url)).connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {ENV} does not answer: {error}")
        pytest.skip(f"PostgreSQL at {ENV} does not answer")
    return url
