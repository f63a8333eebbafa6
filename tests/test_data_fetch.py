"""Tests of the dataset download: hash verification, skipping, corruption and offline errors.

A local ``ThreadingHTTPServer`` serves links to the published files shipped in the package
(``data.npz`` and ``if2.npz``) out of a temporary folder, so no test touches the network.
"""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pitot_tf.data import fetch
from pitot_tf.data.packaged import DATA_FILES as PACKAGED_FILES
from pitot_tf.data.packaged import PUBLISHED_DIR, SOURCE_COMMIT
from pitot_tf.errors import DataError

#: The published files the package ships (the feature tables before filtering are not).
SERVED = PACKAGED_FILES


class _Handler(SimpleHTTPRequestHandler):
    """Static file handler that records request paths and logs nothing."""

    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """Serve ``good/`` (links to the real files) and ``bad/`` (a corrupted copy).

    Yields the server's root URL and the list of request paths it has seen.
    """
    real = PUBLISHED_DIR
    root = tmp_path_factory.mktemp("srv")
    (root / "good").mkdir()
    (root / "bad").mkdir()
    for name in SERVED:
        (root / "good" / name).symlink_to(real / name)
    corrupted = bytearray((real / "if2.npz").read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    (root / "bad" / "if2.npz").write_bytes(bytes(corrupted))
    seen: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_git_blob_sha1_matches_git_hash_object(tmp_path: Path) -> None:
    """`printf 'hello\\n' | git hash-object --stdin` is ce0136…; both helpers agree."""
    assert fetch.git_blob_sha1(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert fetch.git_blob_sha1(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    assert fetch.file_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_packaged_files_match_pinned_hashes() -> None:
    """The packaged copy of the dataset is exactly what the pinned commit holds (its git blob
    hashes), and the commit is the one the package names."""
    assert fetch.COMMIT == SOURCE_COMMIT
    for name in SERVED:
        assert fetch.file_blob_sha1(PUBLISHED_DIR / name) == fetch.BLOB_SHA1[name], name


def test_fetch_verifies_then_skips(server: tuple[str, list[str]], tmp_path: Path) -> None:
    """A good download verifies; a second fetch makes no request and leaves files untouched."""
    url, seen = server
    out = tmp_path / "data"
    paths = fetch.fetch_dataset(out, base_url=f"{url}/good", files=SERVED, progress=False)
    assert paths == [out / name for name in SERVED]
    assert sorted(p.name for p in out.iterdir()) == sorted(SERVED)
    for path in paths:
        assert fetch.file_blob_sha1(path) == fetch.BLOB_SHA1[path.name]
    mtimes = {p: p.stat().st_mtime_ns for p in paths}
    before = len(seen)
    assert fetch.fetch_dataset(out, base_url=f"{url}/good", files=SERVED, progress=False) == paths
    assert len(seen) == before
    assert {p: p.stat().st_mtime_ns for p in paths} == mtimes


def test_invalid_present_file_is_downloaded_again(
    server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A present file with the wrong content is replaced; the base URL comes from the env."""
    url, _ = server
    monkeypatch.setenv("PITOT_DATA_URL", f"{url}/good/")
    (tmp_path / "data.npz").write_bytes(b"not the real file")
    (path,) = fetch.fetch_dataset(tmp_path, files=["data.npz"], progress=False)
    assert fetch.file_blob_sha1(path) == fetch.BLOB_SHA1["data.npz"]


def test_corrupted_download_is_rejected(server: tuple[str, list[str]], tmp_path: Path) -> None:
    """A served file with one flipped byte raises, and leaves neither the file nor a temp."""
    url, _ = server
    with pytest.raises(DataError) as info:
        fetch.fetch_dataset(tmp_path, base_url=f"{url}/bad", files=["if2.npz"], progress=False)
    message = str(info.value)
    assert "if2.npz" in message and fetch.BLOB_SHA1["if2.npz"] in message
    assert list(tmp_path.iterdir()) == []


def test_missing_file_on_server(server: tuple[str, list[str]], tmp_path: Path) -> None:
    """A 404 becomes a DataError naming the URL; nothing is left behind."""
    url, _ = server
    with pytest.raises(DataError, match="404") as info:
        fetch.fetch_dataset(tmp_path, base_url=f"{url}/good", files=["if3.npz"], progress=False)
    assert info.value.file == f"{url}/good/if3.npz"
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_says_how_to_work_offline(tmp_path: Path) -> None:
    """A closed port gives a DataError that points at --data-dir / PITOT_DATA."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError) as info:
        fetch.fetch_dataset(tmp_path, base_url=f"http://127.0.0.1:{port}", files=["data.npz"],
                            progress=False)
    assert "PITOT_DATA" in str(info.value) and "--data-dir" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_file_name(tmp_path: Path) -> None:
    """Asking for a file the commit does not have fails before any request."""
    with pytest.raises(DataError, match="not a dataset file"):
        fetch.fetch_dataset(tmp_path, base_url="http://127.0.0.1:9", files=["nope.npz"])


def test_default_url_is_pinned_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without argument or env, the URL points at the pinned commit; the argument wins."""
    monkeypatch.delenv("PITOT_DATA_URL", raising=False)
    assert fetch.resolve_base_url() == fetch.DEFAULT_BASE_URL
    assert fetch.COMMIT in fetch.DEFAULT_BASE_URL
    monkeypatch.setenv("PITOT_DATA_URL", "http://mirror/x/")
    assert fetch.resolve_base_url() == "http://mirror/x"
    assert fetch.resolve_base_url("http://arg") == "http://arg"
