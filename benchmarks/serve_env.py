"""The served model's own environment: a fresh virtual environment with only the logged
pyfunc-model's requirements serves it.

    python benchmarks/serve_env.py [--data-dir DIR] [--steps 200] [--model PATH]
        [--workdir DIR (kept)] [--keep]

Trains the ``pitot`` preset for ``--steps`` steps (on the packaged published data unless
``--data-dir`` says otherwise; level 0.5, replicate 0) in a private SQLite store and logs its
models, unless ``--model`` names a pyfunc-model folder already on disk. Then:

1. makes a fresh virtual environment (``python -m venv``, this interpreter's Python) and
   installs the model's ``requirements.txt`` into it with ``pip install -r`` (from the
   package index, through pip's cache); reports the seconds this took and the environment's
   size on disk (every file under the venv, pip included);
2. serves the model from that environment with ``mlflow models serve --env-manager local``
   (1 worker, on 127.0.0.1), with no ``PYTHONPATH``: ``pitot_tf`` comes from the model's
   own ``code`` folder; reports the seconds from starting the command to the first
   ``/ping`` answered 200 (``ready_s``) and the CPU seconds its processes used until then
   (``ready_cpu_s``: start-up runs one process at a time, so this is about what ``ready_s``
   would be on an idle machine), and the resident memory of the worker that loaded the
   model and of the whole process tree (MB);
3. asks one good request (the model's own input example) and one bad one (an unknown
   workload): the first must answer 200 with finite, positive numbers, the second 400.

The last line is one JSON object with every figure and a ``problems`` list (empty when every
check passed; the exit status is then 0). ``tensorflow`` or ``keras`` installed in the fresh
environment is a problem.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    add_data_options,
    emit,
    free_port,
    load_average,
    stop_process_group,
    train_and_log,
    work_folder,
)

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
PIP_TIMEOUT_S = 900.0
#: Packages whose presence in the serving environment means it pulled in a deep-learning stack.
FORBIDDEN = ("tensorflow", "tensorflow-cpu", "keras", "tf-keras", "torch")


@dataclass(frozen=True)
class Settings:
    data_dir: Path | None
    workdir: Path
    model: Path | None = None
    steps: int = 200
    keep: bool = False



def folder_mb(folder: Path) -> float:
    """Bytes of every regular file under ``folder`` (links not followed), MB."""
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 2**20


def make_env(model: Path, venv: Path) -> dict[str, Any]:
    """A fresh venv with the model's requirements; seconds, size and what got installed."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    done = subprocess.run([*pip, "install", "-q", "--disable-pip-version-check", "-r",
                           str(model / "requirements.txt")], capture_output=True, text=True,
                          timeout=PIP_TIMEOUT_S, env=clean_env())
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"pip install -r requirements.txt failed: {tail}")
    seconds = time.monotonic() - started
    listed = subprocess.run([*pip, "list", "--format=json", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True, env=clean_env())
    installed = sorted(item["name"].lower() for item in json.loads(listed.stdout))
    return {"install_s": round(seconds, 1), "venv_mb": round(folder_mb(venv), 1),
            "installed": installed}


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """This environment without ``PYTHONPATH`` or this interpreter's ``bin`` on ``PATH``, and
    with ``venv`` activated (its ``bin`` first on ``PATH``: ``mlflow models serve`` starts
    ``uvicorn`` from there): the fresh venv sees only what it installed."""
    ours = Path(sys.executable).parent
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != ours]
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if venv is not None:
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    return {**env, "PATH": os.pathsep.join(path)}



class Server:
    """``mlflow models serve`` from the fresh venv, on loopback, 1 worker."""

    def __init__(self, venv: Path, model: Path, log: Path) -> None:
        self.port, self.log = free_port(HOST), log
        command = [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(model),
                   "--env-manager", "local", "-h", HOST, "-p", str(self.port), "-w", "1"]
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, env=clean_env(venv), cwd=log.parent,
                                        stdout=log.open("w"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.ready_s = self.wait_until_up()
        self.ready_cpu_s = self.cpu_s()

    def wait_until_up(self) -> float:
        """Seconds from start to the first ``/ping`` answered 200."""
        while time.monotonic() - self.started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                tail = " | ".join(self.log.read_text().splitlines()[-5:])
                raise RuntimeError(f"server exited with {self.process.returncode}: {tail}")
            try:
                status, _ = ask(self.port, "GET", "/ping", b"", timeout=1)
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server did not answer /ping within {START_TIMEOUT_S:.0f} s")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server's processes have used so far: at start-up,
        which runs one process at a time, about the wall time an idle machine would take."""
        import psutil

        started = psutil.Process(self.process.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [started, *started.children(True)])

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the worker (the largest process of the tree, which loaded the
        model) and of the whole tree (the ``mlflow`` command and uvicorn), MB."""
        import psutil

        started = psutil.Process(self.process.pid)
        sizes = [p.memory_info().rss / 2**20 for p in [started, *started.children(True)]]
        return {"worker_rss_mb": round(max(sizes), 1), "tree_rss_mb": round(sum(sizes), 1),
                "processes": len(sizes)}

    def stop(self) -> None:
        """End the server's own process group."""
        stop_process_group(self.process)


def ask(port: int, method: str, path: str, body: bytes,
        timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """Status and JSON answer of one request."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read()
    finally:
        connection.close()
    try:
        answer = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        answer = {"text": text[:200].decode(errors="replace")}
    return response.status, answer if isinstance(answer, dict) else {"answer": answer}


def example_rows(model: Path) -> list[dict[str, Any]]:
    """The model's logged input example, as request records."""
    example = json.loads((model / "input_example.json").read_text())
    return [dict(zip(example["columns"], row, strict=True)) for row in example["data"]]


def requests_problems(port: int, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """One good and one bad request: their statuses, and what was wrong."""
    problems: list[str] = []
    status, answer = ask(port, "POST", "/invocations",
                         json.dumps({"dataframe_records": rows}).encode())
    values = [row.get(key) for row in answer.get("predictions", [])
              for key in ("predicted_runtime_s", "upper_bound_s")]
    if status != 200 or len(values) != 2 * len(rows) or not all(
            isinstance(v, float) and math.isfinite(v) and v > 0 for v in values):
        problems.append(f"good request: {status} {str(answer)[:200]}")
    bad = [{**rows[0], "workload": "no-such-workload"}]
    bad_status, bad_answer = ask(port, "POST", "/invocations",
                                 json.dumps({"dataframe_records": bad}).encode())
    if bad_status != 400:
        problems.append(f"bad request: {bad_status} {str(bad_answer)[:200]}")
    return {"good_status": status, "bad_status": bad_status,
            "bad_message": str(bad_answer.get("message", ""))[:200],
            "answer": answer.get("predictions")}, problems


def run(settings: Settings) -> dict[str, Any]:
    model = settings.model or train_and_log(
        settings.workdir, settings.data_dir, settings.steps, "serve-env")
    requirements = (model / "requirements.txt").read_text().split()
    report: dict[str, Any] = {"requirements": requirements, "cpus": os.cpu_count(),
                              "python": sys.version.split()[0], "load_average": load_average()}
    report.update(make_env(model, settings.workdir / "venv"))
    problems = [f"{name} installed in the serving environment" for name in FORBIDDEN
                if name in report["installed"]]
    server = Server(settings.workdir / "venv", model, settings.workdir / "server.log")
    try:
        report["ready_s"] = round(server.ready_s, 2)
        report["ready_cpu_s"] = round(server.ready_cpu_s, 2)
        report.update(server.rss_mb())
        answers, found = requests_problems(server.port, example_rows(model))
        report.update(answers)
        problems += found
    finally:
        server.stop()
    report["load_average_after"] = load_average()
    report["problems"] = problems
    return report


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_options(parser, steps=200, overrides=False,
                     data_help="dataset folder (default: the packaged published data)")
    parser.add_argument("--model", type=Path, help="a pyfunc-model folder (skips training)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    return Settings(
        data_dir=Path(args.data_dir).resolve() if args.data_dir else None,
        workdir=work_folder(args.workdir, "pitot-serve-env-"),
        model=args.model.resolve() if args.model else None, steps=args.steps,
        keep=args.keep or args.workdir is not None)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        report = run(settings)
    finally:
        if not settings.keep:
            shutil.rmtree(settings.workdir, ignore_errors=True)
    emit(report)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
