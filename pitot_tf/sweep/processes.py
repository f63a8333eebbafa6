"""Which process owns a run, and whether that process still exists (``psutil``).

A process is named by host, pid and its start time, so that a pid reused by a new process
after a crash is not mistaken for the old one.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ProcessId:
    """A process on some host; ``start`` is empty where the start time is unknown."""

    host: str
    pid: int
    start: str = ""


def start_time(pid: int) -> str:
    """The process's start time (seconds since the epoch, as text), or "" if unavailable."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return ""


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
        zombie = psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    return not zombie and (not process.start or start_time(process.pid) in ("", process.start))


def process_from(values: dict[str, str], host: str, pid: str, start: str) -> ProcessId | None:
    """The process recorded under the keys ``host``/``pid``/``start`` of ``values`` (tags or
    user attributes), or None when none is recorded."""
    if host not in values or pid not in values:
        return None
    try:
        return ProcessId(str(values[host]), int(values[pid]), str(values.get(start, "")))
    except (TypeError, ValueError):
        return None
