"""Which process wrote a run (or runs an Optuna trial), and whether it is still alive.

A process is named by host, pid and start time (``psutil``), so that a pid reused after a
crash is not taken for the old process. Runs that record theirs in tags (sweep cells and
parents) can be found dead at once by ``pitot-tf runs repair`` and by sweep workers; the
search's journal heartbeat records it on trials.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

#: The process that ran a run: a RUNNING run whose process is gone was killed.
TAG_HOST, TAG_PID, TAG_PID_START = "pitot.host", "pitot.pid", "pitot.pid_start"
#: How far two readings of one process's start time may differ. On Linux psutil adds the boot
#: time to the start in clock ticks, and the kernel recomputes the boot time (wall clock minus
#: uptime, whole seconds) at every read, so a clock slewed by NTP moves a live process's start
#: by a second between readings. A pid is reused only after the pid space wraps, far later.
START_TOLERANCE_S = 2.5


@dataclass(frozen=True)
class ProcessId:
    """A process on some host; ``start`` (seconds since the epoch) is None where unknown."""

    host: str
    pid: int
    start: float | None = None

    @classmethod
    def this(cls) -> ProcessId:
        process = psutil.Process()
        return cls(socket.gethostname(), process.pid, process.create_time())

    @classmethod
    def parse(cls, host: Any, pid: Any, start: Any) -> ProcessId | None:
        """From recorded values (tags are text); None when nothing usable is recorded."""
        try:
            return cls(str(host), int(pid), None if start in (None, "") else float(start))
        except (TypeError, ValueError):
            return None

    @property
    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def is_gone(self) -> bool:
        """Whether this process ran on this host and has exited (a zombie, or its pid now held
        by a process started more than ``START_TOLERANCE_S`` apart, counts as exited). Nothing
        here can tell for another host."""
        if not self.is_local:
            return False
        try:
            process = psutil.Process(self.pid)
            moved = abs(process.create_time() - (self.start or 0.0))
            return process.status() == psutil.STATUS_ZOMBIE or (
                self.start is not None and moved > START_TOLERANCE_S)
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False


def process_tags(process: ProcessId) -> dict[str, str]:
    start = "" if process.start is None else f"{process.start:.2f}"
    return {TAG_HOST: process.host, TAG_PID: str(process.pid), TAG_PID_START: start}


def tagged_process(tags: Mapping[str, str]) -> ProcessId | None:
    """The process a run records, or None when it records none."""
    if TAG_HOST not in tags or TAG_PID not in tags:
        return None
    return ProcessId.parse(tags[TAG_HOST], tags[TAG_PID], tags.get(TAG_PID_START))
