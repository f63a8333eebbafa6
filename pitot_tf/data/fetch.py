"""Download the published Pitot dataset, verified against the git blob hashes of its commit.

The files live in the public repository WiseLabCMU/pitot (folder ``data/``) at a pinned
commit, so their content is fixed: each is checked against the SHA-1 git itself records for
it (``git hash-object``), which means a truncated, corrupted or substituted download can never
be mistaken for the real data. Files are written under a temporary name in the output folder
and renamed into place only once verified, so an interrupted fetch leaves no half-written
``data.npz`` behind, and a second fetch skips files that are already present and valid.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from pitot_tf.errors import DataError

__all__ = [
    "ALL_FILES",
    "BLOB_SHA1",
    "COMMIT",
    "DEFAULT_BASE_URL",
    "fetch_dataset",
    "file_blob_sha1",
    "git_blob_sha1",
    "resolve_base_url",
]

log = logging.getLogger(__name__)

COMMIT = "b94541c2bee815be183b4bb3dda9685afb41e2e7"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/WiseLabCMU/pitot/{COMMIT}/data"
URL_ENV = "PITOT_DATA_URL"
TIMEOUT_S = 60.0
CHUNK = 1 << 16

# git blob SHA-1 of each file of data/ at COMMIT (what `git ls-tree COMMIT data/` prints).
BLOB_SHA1: dict[str, str] = {
    "data.npz": "e6ae377da66df800e460e8b7f8738dea7912bfed",
    "if2.npz": "9799ec9a36997aec5f369bae098ff3796a7b185c",
    "if3.npz": "6e7c2b87298e7634056abddd663a128e2fc4efcd",
    "if4.npz": "a1441f23554e6b856a5620f6d821cf57e82f15a1",
    "_opcodes.npz": "37a809d6430bba2e57d95398c26f835fb5148d74",
    "_platforms.npz": "0fbefa31719eef5b8ea9e414fd2ce2619b432828",
}
ALL_FILES: tuple[str, ...] = tuple(BLOB_SHA1)

OFFLINE_HINT = (
    "to use a copy you already have, pass --data-dir DIR or set the PITOT_DATA environment "
    f"variable to its folder; to download from a mirror instead, set {URL_ENV} to its base URL"
)


def git_blob_sha1(content: bytes) -> str:
    """SHA-1 of ``content`` as git stores it as a blob (what ``git hash-object`` prints)."""
    digest = hashlib.sha1(b"blob %d\0" % len(content))
    digest.update(content)
    return digest.hexdigest()


def file_blob_sha1(path: Path) -> str:
    """git blob SHA-1 of a file, read in chunks so large files need no memory."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_base_url(base_url: str | None = None) -> str:
    """The base URL to fetch from: the argument, else ``$PITOT_DATA_URL``, else the commit."""
    return (base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def fetch_dataset(
    out: Path,
    base_url: str | None = None,
    files: Sequence[str] = ALL_FILES,
    progress: bool = True,
) -> list[Path]:
    """Download ``files`` of the published dataset into ``out``; return their paths.

    Files already in ``out`` with the right hash are kept without a request; missing or
    invalid ones are downloaded, verified and moved into place. Raises ``DataError`` for an
    unknown file name, a network failure (with a hint on working offline) or a hash mismatch.
    """
    unknown = [name for name in files if name not in BLOB_SHA1]
    if unknown:
        raise DataError(", ".join(unknown), f"not a dataset file; known: {', '.join(ALL_FILES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = resolve_base_url(base_url)
    paths = []
    for name in files:
        path = out / name
        if _is_valid(path, BLOB_SHA1[name]):
            log.info("%s already present and verified; skipping", path)
        else:
            _download(f"{root}/{name}", path, BLOB_SHA1[name], progress)
        paths.append(path)
    return paths


def _is_valid(path: Path, expected: str) -> bool:
    """Whether ``path`` is a file whose git blob hash is ``expected``."""
    if not path.is_file():
        return False
    if file_blob_sha1(path) == expected:
        return True
    log.warning("%s exists but its hash does not match; downloading it again", path)
    return False


def _download(url: str, path: Path, expected: str, progress: bool) -> None:
    """Fetch ``url`` to a temporary file beside ``path``, verify it, then rename it into place.

    The temporary file is removed on any failure, so only verified data ever appears under
    the final name.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as sink:
            _stream(url, sink, path.name, progress)
            sink.flush()
            os.fsync(sink.fileno())
        got = file_blob_sha1(tmp)
        if got != expected:
            raise DataError(
                url,
                f"downloaded {path.name} has git blob SHA-1 {got}, expected {expected} "
                "(corrupted download or a mirror with other content); it was deleted",
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url: str, sink: BinaryIO, label: str, progress: bool) -> None:
    """Copy the body of ``url`` into ``sink`` with a progress bar; network errors → DataError."""
    request = urllib.request.Request(url, headers={"User-Agent": "pitot-tf"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                file=sys.stderr, disable=not progress, leave=False,
            ) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    sink.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        message = f"server answered HTTP {err.code} {err.reason}; {OFFLINE_HINT}"
        raise DataError(url, message) from err
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
            ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DataError(url, f"download failed ({reason}); {OFFLINE_HINT}") from err
