"""``pitot-tf dashboard`` serves optuna-dashboard on 127.0.0.1 and lists the study."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from search_support import write_study

from pitot_tf.errors import ConfigError
from pitot_tf.search.dashboard import dashboard_storage
from pitot_tf.search.runner import ensure_study
from pitot_tf.search.studies import load_study

PITOT_TF = str(Path(sys.executable).parent / "pitot-tf")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str, timeout_s: float = 60.0) -> dict[str, object]:
    """GET ``url`` until the server answers (it needs a few seconds to start)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return dict(json.loads(response.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_dashboard_lists_the_study(tmp_path: Path) -> None:
    path = write_study(tmp_path)
    study = ensure_study(load_study(path), str(path.with_suffix(".journal")))
    study.tell(study.ask(), 0.25)
    port = free_port()
    server = subprocess.Popen([PITOT_TF, "dashboard", "--study", str(path), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        studies = get_json(f"http://127.0.0.1:{port}/api/studies")
    finally:
        server.terminate()
        server.wait(timeout=30)
    summaries = studies["study_summaries"]
    assert isinstance(summaries, list)
    assert [s["study_name"] for s in summaries] == ["tiny"]


def test_dashboard_needs_an_existing_storage(tmp_path: Path) -> None:
    path = write_study(tmp_path)
    with pytest.raises(ConfigError, match="no study storage"):
        dashboard_storage(path, None)
    with pytest.raises(ConfigError, match="--study or a --storage"):
        dashboard_storage(None, None)
