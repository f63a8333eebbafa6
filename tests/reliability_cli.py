"""Running ``pitot-tf`` as a user would, for the ``test_reliability_*`` files.

:func:`pitot` calls the console script's own function (:func:`pitot_tf.cli.main`: argument
parsing, one-line errors, exit status) in this process, which is fast; :func:`script` runs the
installed ``pitot-tf`` in a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

PITOT_TF = Path(sys.executable).with_name("pitot-tf")


@dataclass(frozen=True)
class Outcome:
    """What a command left: exit status, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def message(self) -> str:
        """The error line without its ``error: `` prefix."""
        return error_lines(self.err)[-1].removeprefix("error: ") if error_lines(self.err) else ""


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


def pitot(*args: str) -> Outcome:
    """Run ``pitot-tf ARGS`` through the console script's function in this process."""
    from pitot_tf.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with mock.patch.object(sys, "argv", ["pitot-tf", *args]), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return Outcome(code, out.getvalue(), err.getvalue())


def script(*args: str, cwd: Path, timeout: float = 180) -> Outcome:
    """Run the installed ``pitot-tf ARGS`` in a subprocess."""
    done = subprocess.run([str(PITOT_TF), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(outcome: Outcome, *fragments: str) -> None:
    """Exit 1 and stderr exactly one ``error:`` line containing every fragment; no traceback."""
    assert outcome.code == 1, outcome
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.err
    assert "Traceback" not in outcome.err + outcome.out
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
