"""The published Pitot dataset, shipped inside the package (``pitot_tf/data/published/``).

Why: the dataset is small (4.5 MB), MIT-licensed, and what every result in the docs is
measured on; shipping it makes the default dataset work offline, on a fresh clone or a
wheel, the way scikit-learn's bundled datasets do. The folder holds ``data.npz`` and
``if2.npz`` exactly as published (WiseLabCMU/pitot at :data:`SOURCE_COMMIT`), their
SHA-256 in ``SHA256SUMS``, the licence and a README naming the source.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pitot_tf.errors import DataError

#: The name that asks for this dataset (``source=published`` in the ``data`` and ``main`` steps).
PUBLISHED = "published"
#: Where the published files come from.
SOURCE_REPOSITORY = "https://github.com/WiseLabCMU/pitot"
SOURCE_COMMIT = "b94541c2bee815be183b4bb3dda9685afb41e2e7"
#: The folder, next to this module, that the wheel and the sdist carry.
PUBLISHED_DIR = Path(__file__).resolve().parent / "published"
CHECKSUM_FILE = "SHA256SUMS"
#: The dataset files (the other files in the folder are its licence and README).
DATA_FILES = ("data.npz", "if2.npz")


def published_data_dir() -> Path:
    """The folder of the packaged published dataset (a DataError if the install lacks it)."""
    if not (PUBLISHED_DIR / DATA_FILES[0]).is_file():
        raise DataError(
            str(PUBLISHED_DIR),
            "the packaged published dataset is missing (a broken install?); reinstall "
            "pitot-tf, or pass --data-dir or set PITOT_DATA",
        )
    return PUBLISHED_DIR


def published_checksums() -> dict[str, str]:
    """``{file name: sha256 hex}`` as recorded in ``SHA256SUMS`` (``sha256sum`` format)."""
    path = PUBLISHED_DIR / CHECKSUM_FILE
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(str(path), f"line {number}: expected '<sha256>  <file>'")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _sha256(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_published() -> dict[str, str]:
    """Check every packaged dataset file against ``SHA256SUMS``; return the checked sums.
    A missing file, a file without a recorded sum, or a different hash is a DataError."""
    root = published_data_dir()
    sums = published_checksums()
    for name in DATA_FILES:
        if name not in sums:
            raise DataError(str(root / CHECKSUM_FILE), f"no checksum for {name}")
        path = root / name
        if not path.is_file():
            raise DataError(str(path), "file not found")
        actual = _sha256(path)
        if actual != sums[name]:
            raise DataError(str(path), f"sha256 {actual} differs from {sums[name]} in "
                                       f"{CHECKSUM_FILE}")
    return {name: sums[name] for name in DATA_FILES}


def is_published(data_dir: Path | None) -> bool:
    """Whether ``data_dir`` holds the published matrix file (the packaged folder or a
    byte-identical copy, e.g. a ``data fetch``): the same SHA-256 as the packaged one."""
    if data_dir is None:
        return False
    path = Path(data_dir) / DATA_FILES[0]
    try:
        return path.is_file() and _sha256(path) == published_checksums()[DATA_FILES[0]]
    except (OSError, KeyError, DataError):
        return False
