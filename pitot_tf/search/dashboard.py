"""``pitot-tf dashboard``: optuna-dashboard on a study's storage (127.0.0.1 by default)."""

from __future__ import annotations

from pathlib import Path

from pitot_tf.errors import ConfigError
from pitot_tf.search.storage import is_url, open_storage, storage_location
from pitot_tf.search.studies import load_study


def dashboard_storage(study: str | Path | None, storage: str | None) -> str:
    """The storage to show: ``storage`` as given, else the study's default journal file."""
    if study is None and not storage:
        raise ConfigError("name a --study or a --storage for the dashboard")
    location = storage or storage_location(load_study(str(study)))
    if not is_url(location) and not Path(location).is_file():
        raise ConfigError(f"no study storage at {location}; run `pitot-tf search` first")
    return location


def serve_dashboard(location: str, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve optuna-dashboard for ``location`` until interrupted (blocks). It is an extra
    (``pitot-tf[dashboard]``): without it, one line says what to install."""
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise ConfigError("pitot-tf dashboard needs optuna-dashboard, which is not installed: "
                          "pip install 'pitot-tf[dashboard]'") from None

    run_server(open_storage(location), host=host, port=port)
