"""Database URLs (an Optuna storage, an MLflow tracking store) with a driver that is installed.

SQLAlchemy reads ``postgresql://`` as ``postgresql+psycopg://`` (psycopg 3) since 2.1, while
pitot-tf's ``postgres`` extra installs psycopg2: :func:`installed_url` picks the driver that is
there, so a plain ``postgresql://`` URL works with either. A URL whose driver is missing
(``postgresql+pg8000://`` without pg8000, ``mysql://`` without mysqlclient) is a
:class:`~pitot_tf.errors.ConfigError` from :func:`require_driver` that names the package to
install, instead of a traceback from deep inside SQLAlchemy. Bottom layer: the search and
tracking layers and the command line use it; SQLAlchemy is imported only for a database URL.
"""

from __future__ import annotations

import importlib.util
import os

from pitot_tf.errors import ConfigError
from pitot_tf.redaction import redact

#: URL schemes (before any ``+driver``) that name a SQLAlchemy database: what MLflow's
#: tracking store accepts, and what Optuna's RDBStorage reads.
DATABASE_SCHEMES = ("postgresql", "postgres", "mysql", "mssql", "oracle", "sqlite")
#: The pip package that provides each DB-API module SQLAlchemy may ask for.
PACKAGES = {
    "psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary (or pitot-tf[postgres])",
    "pg8000": "pg8000", "asyncpg": "asyncpg", "MySQLdb": "mysqlclient", "pymysql": "PyMySQL",
    "mysql": "mysql-connector-python", "mariadb": "mariadb", "pyodbc": "pyodbc",
    "pymssql": "pymssql", "oracledb": "oracledb", "cx_Oracle": "cx_Oracle",
}
#: Where MLflow reads the tracking URI, and where pitot-tf reads a study's storage when no
#: ``--storage`` is given: secrets travel in these, never on a command line.
TRACKING_VARIABLE = "MLFLOW_TRACKING_URI"
STORAGE_VARIABLE = "PITOT_STORAGE"


def is_database_url(location: str) -> bool:
    """Whether ``location`` is a SQLAlchemy database URL (``postgresql+psycopg2://...``)."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.split("+")[0].lower() in DATABASE_SCHEMES


def installed_url(location: str) -> str:
    """``location`` with a PostgreSQL driver that is installed: ``postgres://`` is spelled
    ``postgresql://``, and plain ``postgresql://`` becomes ``postgresql+psycopg2://`` where
    psycopg2 is installed but psycopg 3 (SQLAlchemy's default) is not."""
    scheme, sep, rest = location.partition("://")
    if scheme == "postgres":
        scheme = "postgresql"
    if (scheme == "postgresql" and importlib.util.find_spec("psycopg") is None
            and importlib.util.find_spec("psycopg2") is not None):
        scheme = "postgresql+psycopg2"
    return f"{scheme}{sep}{rest}" if sep else location


def require_driver(location: str, what: str) -> None:
    """Raise a one-line ConfigError naming the package to install when the database driver
    that ``location`` needs is missing (``what``: "storage", "tracking URI")."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = redact(location)
    try:
        make_url(location).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError) as error:
        raise ConfigError(f"{what} {shown}: not a database URL SQLAlchemy knows "
                          f"({redact(str(error).splitlines()[0])})") from None
    except ImportError as error:
        module = (error.name or "").split(".")[0] or "its driver"
        package = PACKAGES.get(module, module)
        raise ConfigError(f"{what} {shown} needs the Python package {module}, which is not "
                          f"installed: pip install {package}") from None


def prepare_tracking_uri() -> None:
    """Point ``$MLFLOW_TRACKING_URI``, when it names a database, at an installed driver
    (:func:`installed_url`; child processes inherit it), or fail with one line naming the
    package to install (:func:`require_driver`)."""
    uri = os.environ.get(TRACKING_VARIABLE, "")
    if not is_database_url(uri):
        return
    usable = installed_url(uri)
    require_driver(usable, "tracking URI")
    os.environ[TRACKING_VARIABLE] = usable
