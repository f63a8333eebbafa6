"""Fingerprints that say which data and which code produced a run.

A run is only comparable (and reusable by the pipeline) when both match: the data by the
hashes and shapes of its files, the code by the git commit when there is one (marked
``dirty`` plus a hash of the source files when the code has uncommitted edits), else by the
package version and the source hash.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pitot_tf
from pitot_tf.data.dataset import MATRIX_FILE, Dataset, interference_files

PACKAGE_ROOT = Path(pitot_tf.__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_files(dataset: Dataset) -> list[Path]:
    """The files ``dataset`` was read from: ``data.npz`` and the loaded ``ifK.npz``."""
    if dataset.source is None:
        return []
    root = Path(dataset.source)
    wanted = {f"if{obs.degree}" for obs in dataset.objectives.values() if obs.degree > 1}
    return [root / MATRIX_FILE] + [p for k, p in interference_files(root) if f"if{k}" in wanted]


def data_fingerprint(dataset: Dataset) -> dict[str, Any]:
    """Hashes and sizes of the data files, the axis and table shapes, and one short
    ``fingerprint`` summarising them all."""
    files = {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
             for p in data_files(dataset)}
    shapes = {
        "platforms": len(dataset.platforms), "workloads": len(dataset.workloads),
        "platform_features": int(dataset.platforms.features.shape[1]),
        "workload_features": int(dataset.workloads.features.shape[1]),
        "rows": {name: len(obs) for name, obs in dataset.objectives.items()},
    }
    text = json.dumps({"files": files, "shapes": shapes}, sort_keys=True)
    return {
        "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16],
        "directory": str(Path(dataset.source).resolve()) if dataset.source else None,
        "files": files, "shapes": shapes,
    }


def shape_text(fingerprint: dict[str, Any]) -> str:
    """``"231x249; mf=53637; if2=98957"``: the shapes as one short param value."""
    shapes = fingerprint["shapes"]
    rows = "; ".join(f"{name}={n}" for name, n in shapes["rows"].items())
    return f"{shapes['platforms']}x{shapes['workloads']}; {rows}"


@lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 (first 12 hex digits) of the package's and entry points' source and MLproject."""
    digest = hashlib.sha256()
    files = sorted(PACKAGE_ROOT.rglob("*.py"))
    files += sorted((PROJECT_ROOT / "entrypoints").glob("*.py"))
    files += [p for p in (PROJECT_ROOT / "MLproject",) if p.is_file()]
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The project's git commit (``git rev-parse HEAD``), or None outside a repository, before
    the first commit or without git."""
    return _git("rev-parse", "HEAD")


@lru_cache(maxsize=1)
def git_dirty() -> bool:
    """Whether the tracked code (package, entry points, MLproject) has uncommitted edits."""
    changes = _git("status", "--porcelain", "--untracked-files=no", "--",
                   "pitot_tf", "entrypoints", "MLproject")
    return bool(changes)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def source_version() -> str:
    """``<package version>+<source hash>``: equal exactly when the code is, whatever the git
    history (a docs-only commit keeps it). What the pipeline's reuse check and sweep keys
    compare."""
    return f"{pitot_tf.__version__}+{source_hash()}"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Which code ran, for people: ``git:<commit>`` in a clean checkout,
    ``git:<commit>-dirty.<source hash>`` with uncommitted edits to the code,
    :func:`source_version` outside git."""
    commit = git_commit()
    if commit is None:
        return source_version()
    return f"git:{commit}-dirty.{source_hash()}" if git_dirty() else f"git:{commit}"
