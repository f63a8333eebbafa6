"""Which process owns a run or a trial, and whether that process still exists.

A process is named by host, pid and (on Linux) its start time in clock ticks since boot, so
that a pid reused by a new process after a crash is not mistaken for the old one.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessId:
    """A process on some host; ``start`` is empty where the start time is unknown."""

    host: str
    pid: int
    start: str = ""


def start_time(pid: int) -> str:
    """The process's start time (field 22 of ``/proc/<pid>/stat``), or "" if unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def this_process() -> ProcessId:
    pid = os.getpid()
    return ProcessId(socket.gethostname(), pid, start_time(pid))


def is_local(process: ProcessId) -> bool:
    return process.host == socket.gethostname()


def is_alive(process: ProcessId) -> bool:
    """True while the process runs (on this host; other hosts' processes count as alive,
    since nothing here can tell). A zombie or a pid now held by a younger process is dead."""
    if not is_local(process):
        return True
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _is_zombie(process.pid):
        return False
    return not process.start or start_time(process.pid) in ("", process.start)


def _is_zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = text.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in ("Z", "X")


def process_from(values: dict[str, str], host: str, pid: str, start: str) -> ProcessId | None:
    """The process recorded under the keys ``host``/``pid``/``start`` of ``values`` (tags or
    user attributes), or None when none is recorded."""
    if host not in values or pid not in values:
        return None
    try:
        return ProcessId(str(values[host]), int(values[pid]), str(values.get(start, "")))
    except (TypeError, ValueError):
        return None
