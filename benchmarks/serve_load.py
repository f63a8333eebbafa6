"""Serving load: a real-data pyfunc-model behind ``pitot-tf serve`` and ``mlflow models serve``,
asked as a scheduler would, against the serving speed targets.

    python benchmarks/serve_load.py [--data-dir DIR] [--steps 200] [--model PATH]
        [--server both|pitot|mlflow] [--workers 2] [--mlflow-workers 1] [--one 1000]
        [--eight 2000] [--batches 40] [--batch-clients 2] [--mixed 3000] [--seed 0]
        [--workdir DIR (kept)] [--keep]

Trains the ``pitot`` preset for ``--steps`` steps on the real data (level 0.5, replicate 0) in
a private SQLite store and logs its models, unless ``--model`` names a pyfunc-model folder
already on disk; then serves it on 127.0.0.1 (only), first by ``pitot-tf serve`` with
``--workers`` workers (its own ``/invocations``: JSON read by column, no pandas), then by
``mlflow models serve --env-manager local`` with ``--mlflow-workers`` (MLflow's handler and
the pyfunc's ``predict``); ``--server`` picks one of them. ``UVICORN_*`` and
``MLFLOW_SCORING_SERVER_*`` variables in the environment reach the servers. Requests name
random real workloads and platforms, half of them with one co-runner, alpha 0.05 or 0.1.
Phases, each with a bounded number of requests:

* ``one``: one row per request, one client (``--one`` requests);
* ``eight``: one row per request, 8 clients at once (``--eight`` requests in all);
* ``batch``: 1,000 rows per request, ``--batch-clients`` clients (``--batches`` requests),
  once per request form: ``records`` (``dataframe_records``), ``split``
  (``dataframe_split``), ``split+columns`` (``dataframe_split``, answer asked for by column
  with ``params: {"orient": "columns"}``) and ``inputs+columns`` (``inputs``, one list per
  column, answer by column);
* ``breakdown``: where the time goes, in this process: the pyfunc's ``predict`` alone,
  MLflow's ``PyFuncModel.predict`` (adds schema checks), MLflow's ``/invocations`` handler
  without HTTP (adds JSON parsing and writing) and ``pitot-tf serve``'s own (``direct``),
  for each request form;
* ``mixed``: ``--mixed`` one-row requests, a third of them bad (malformed JSON, unknown
  names, alpha out of range, wrong types): each bad one must get HTTP 400 with no stack trace,
  each good one the same numbers as the model loaded here; the server's memory (RSS of the
  uvicorn processes) is sampled as it goes.

Clients hold keep-alive connections and only send and read in the timed loop; every answer is
checked after its phase (bound >= prediction > 0, names echoed). Prints one line per phase
(throughput, p50 and p99 latency at the client, the CPU time the server spent per request,
which a busy machine inflates less than wall time, and the 1-minute load average), then a
table of the targets (met or not), and last one JSON object with all figures and a
``problems`` list (empty when every check passed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    add_data_options,
    checkout_env,
    emit,
    free_port,
    load_average,
    stop_process_group,
    train_and_log,
    work_folder,
)

HOST = "127.0.0.1"
START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0
RSS_GROWTH_LIMIT_MB = 20.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path | None
    workdir: Path
    model: Path | None = None
    server: str = "both"
    steps: int = 200
    workers: int = 2
    mlflow_workers: int = 1
    one: int = 1000
    eight: int = 2000
    batches: int = 40
    batch_clients: int = 2
    batch_rows: int = 1000
    mixed: int = 3000
    seed: int = 0
    keep: bool = False


@dataclass
class Phase:
    """Client-side figures of one phase."""

    name: str
    requests: int
    rows: int
    wall_s: float
    latencies_s: list[float]
    problems: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_s) * 1e3
        return {"phase": self.name, "requests": self.requests, "rows": self.rows,
                "wall_s": round(self.wall_s, 3),
                "requests_per_s": round(self.requests / self.wall_s, 1),
                "rows_per_s": round(self.rows / self.wall_s, 1),
                "p50_ms": round(float(np.percentile(lat, 50)), 2),
                "p99_ms": round(float(np.percentile(lat, 99)), 2),
                "server_cpu_ms_per_request": round(self.server_cpu_s / self.requests * 1e3, 2),
                "load_average_1min": round(self.load_average, 2),
                "problems": len(self.problems)}


# ---------------------------------------------------------------------------- the model



def names_of(model: Path) -> tuple[list[str], list[str]]:
    """Workload and platform names the model knows (from its calibration artifact)."""
    state = json.loads(next(model.glob("artifacts/**/calibration.json")).read_text())
    return list(state["workloads"]), list(state["platforms"])


# ---------------------------------------------------------------------------- the server



def server_command(server: str, model: Path, port: int, workers: int) -> list[str]:
    """``mlflow models serve`` or ``pitot-tf serve`` of ``model`` on loopback."""
    if server == "pitot":
        return [sys.executable, "-c", "from pitot_tf.cli import main; main()", "serve",
                "--model-uri", str(model), "--host", HOST, "--port", str(port),
                "--workers", str(workers)]
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model),
            "--env-manager", "local", "-h", HOST, "-p", str(port), "-w", str(workers)]


class Server:
    """A running scoring server (``mlflow models serve`` or ``pitot-tf serve``) on loopback."""

    def __init__(self, server: str, model: Path, workers: int, log: Path) -> None:
        self.port, self.workers = free_port(HOST), workers
        self.is_uvicorn = server == "pitot"
        command = server_command(server, model, self.port, workers)
        self.log = log
        self.process = subprocess.Popen(command, env=checkout_env(), stdout=log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = " | ".join(self.log.read_text().splitlines()[-5:])
                raise RuntimeError(f"server exited with {self.process.returncode}: {tail}")
            if self.log.read_text().count("Application startup complete") >= self.workers:
                try:  # every worker has loaded the model: none is still starting
                    connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
                    connection.request("GET", "/ping")
                    if connection.getresponse().status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.5)
        raise TimeoutError(f"server did not answer /ping within {START_TIMEOUT_S:.0f} s")

    def processes(self) -> list[Any]:
        """The uvicorn process and its workers (psutil): ``pitot-tf serve`` is uvicorn itself,
        ``mlflow models serve`` starts it as a child."""
        import psutil

        started = psutil.Process(self.process.pid)
        return [started] * self.is_uvicorn + list(started.children(recursive=True))

    def cpu_s(self) -> float:
        """CPU seconds the serving processes have used so far."""
        return sum(sum(p.cpu_times()[:2]) for p in self.processes())

    def rss_mb(self) -> float:
        """Resident memory of the serving processes (uvicorn and its workers), MB."""
        return sum(p.memory_info().rss for p in self.processes()) / 2**20

    def stop(self) -> None:
        """End the server's own process group (the CLI, uvicorn and its workers)."""
        stop_process_group(self.process)


class Client:
    """One keep-alive HTTP connection, as a scheduler thread would hold."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)

    def send(self, body: bytes) -> tuple[int, bytes, float]:
        """Status, answer bytes and seconds taken."""
        started = time.perf_counter()
        self.connection.request("POST", "/invocations", body,
                                {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        text = response.read()
        return response.status, text, time.perf_counter() - started

    def post(self, body: bytes) -> tuple[int, dict[str, Any], float]:
        status, text, elapsed = self.send(body)
        return status, parse_answer(text), elapsed


def parse_answer(text: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(text)
    except ValueError:
        return {"raw": text.decode(errors="replace")}
    return answer if isinstance(answer, dict) else {"raw": answer}


# ---------------------------------------------------------------------------- requests


class Requests:
    """Random good rows of real names, and bad requests of every kind."""

    def __init__(self, workloads: list[str], platforms: list[str], seed: int) -> None:
        self.workloads, self.platforms = workloads, platforms
        self.rng = random.Random(seed)

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"workload": self.rng.choice(self.workloads),
                               "platform": self.rng.choice(self.platforms),
                               "alpha": self.rng.choice((0.05, 0.1))}
        if self.rng.random() < 0.5:
            row["co_runners"] = self.rng.choice(self.workloads)
        return row

    def rows(self, n: int) -> list[dict[str, Any]]:
        return [self.row() for _ in range(n)]

    def bad(self) -> tuple[str, bytes]:
        """A bad request: its kind and body."""
        row = self.row()
        kinds: dict[str, Callable[[], Any]] = {
            "malformed JSON": lambda: '{"dataframe_records": [',
            "unknown workload": lambda: {**row, "workload": row["workload"] + "x"},
            "unknown platform": lambda: {**row, "platform": "no-such-platform"},
            "negative alpha": lambda: {**row, "alpha": -0.05},
            "alpha >= 1": lambda: {**row, "alpha": 1.5},
            "alpha not a number": lambda: {**row, "alpha": "often"},
            "co_runners a number": lambda: {**row, "co_runners": 3},
            "workload a list": lambda: {**row, "workload": [row["workload"]]},
        }
        kind = self.rng.choice(sorted(kinds))
        made = kinds[kind]()
        body = made if isinstance(made, str) else json.dumps({"dataframe_records": [made]})
        return kind, body.encode()


#: Request forms: how the rows are written and how the answer is asked for.
FORMS = ("records", "split", "split+columns", "inputs+columns")
_COLUMNS = ("workload", "platform", "co_runners", "alpha")


def body_of(rows: list[dict[str, Any]], form: str = "records") -> bytes:
    """A request body for ``rows`` in ``form`` (see :data:`FORMS`)."""
    if form == "records":
        return json.dumps({"dataframe_records": rows}).encode()
    params = {"params": {"orient": "columns"}} if form.endswith("+columns") else {}
    if form.startswith("inputs"):
        columns = {c: [row.get(c) for row in rows] for c in _COLUMNS}
        return json.dumps({"inputs": columns, **params}).encode()
    split = {"columns": list(_COLUMNS), "data": [[row.get(c) for c in _COLUMNS] for row in rows]}
    return json.dumps({"dataframe_split": split, **params}).encode()


def predictions_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's rows, whether it came by record (a list) or by column (a dict)."""
    predictions = answer.get("predictions", [])
    if isinstance(predictions, dict):
        return [dict(zip(predictions, values, strict=True))
                for values in zip(*predictions.values(), strict=True)]
    return list(predictions)


def answer_problems(rows: list[dict[str, Any]], status: int, answer: dict[str, Any]) -> list[str]:
    """What is wrong with a good request's answer (nothing: [])."""
    if status != 200:
        return [f"HTTP {status} for a good request: {str(answer)[:200]}"]
    predictions = predictions_of(answer)
    if len(predictions) != len(rows):
        return [f"{len(predictions)} answers for {len(rows)} rows"]
    problems = []
    for row, got in zip(rows, predictions, strict=True):
        if not got["upper_bound_s"] >= got["predicted_runtime_s"] > 0:
            problems.append(f"bound {got['upper_bound_s']} < prediction "
                            f"{got['predicted_runtime_s']} (or not > 0) for {row}")
        if (got["workload"], got["platform"]) != (row["workload"], row["platform"]):
            problems.append(f"answer for {got['workload']}/{got['platform']} to {row}")
    return problems[:5]


# ---------------------------------------------------------------------------- phases


def run_phase(name: str, server: Server, bodies: list[tuple[list[dict[str, Any]], bytes]],
              clients: int) -> Phase:
    """Send ``bodies`` from ``clients`` threads at once (each its own connection), then check
    every answer; also the CPU time the server spent on them."""
    port = server.port
    latencies: list[float] = []
    answers: list[tuple[list[dict[str, Any]], int, bytes]] = []
    lock = threading.Lock()
    shares = [bodies[i::clients] for i in range(clients)]

    def work(share: list[tuple[list[dict[str, Any]], bytes]]) -> None:
        client = Client(port)
        for rows, body in share:
            status, text, elapsed = client.send(body)
            with lock:
                latencies.append(elapsed)
                answers.append((rows, status, text))

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    cpu_started = server.cpu_s()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = server.cpu_s() - cpu_started
    problems = [problem for rows, status, text in answers
                for problem in answer_problems(rows, status, parse_answer(text))]
    return Phase(name, len(bodies), sum(len(rows) for rows, _ in bodies), wall, latencies,
                 problems, cpu)


def timed(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median wall time and mean CPU time of ``call`` in ms (CPU time, what this process
    itself spent, is the steadier figure on a busy machine)."""
    call()
    walls = []
    cpu_started = time.process_time()
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        walls.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu_started) / repeat
    return {"wall_p50_ms": round(float(np.median(walls)) * 1e3, 3),
            "cpu_ms": round(cpu * 1e3, 3)}


def layer_times(model: Any, rows: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """The pyfunc's own predict, MLflow's predict (schema checks) and /invocations (JSON),
    the last for each request form."""
    import pandas as pd
    from mlflow.pyfunc.scoring_server import invocations

    schema = model.metadata.get_input_schema()
    frame = pd.DataFrame(rows)
    figures = {
        "pyfunc_predict": timed(lambda: model.unwrap_python_model().predict(None, frame), repeat),
        "mlflow_predict": timed(lambda: model.predict(frame), repeat),
    }
    try:
        from pitot_tf.serving.direct import DirectScorer
    except ImportError:  # a checkout from before pitot-tf serve answered by itself
        direct = None
    else:
        direct = DirectScorer.of(model)
    for form in FORMS:
        body = body_of(rows, form)
        figures[f"invocations_{form}"] = timed(
            lambda body=body: invocations(body, "application/json", model, schema), repeat)
        if direct is not None:
            figures[f"direct_{form}"] = timed(lambda body=body: direct.reply(body), repeat)
    return figures


def breakdown(model: Any, requests: Requests, batch_rows: int) -> dict[str, Any]:
    """Time of each layer under the HTTP round trip, in this process, for 1 and 1,000 rows."""
    figures: dict[str, Any] = {}
    for n, repeat in ((1, 300), (batch_rows, 20)):
        figures[f"{n}_rows"] = layer_times(model, requests.rows(n), repeat)
    return figures


def mixed(server: Server, model: Any, requests: Requests, count: int) -> dict[str, Any]:
    """Good and bad one-row requests interleaved; RSS sampled every tenth of the loop."""
    import pandas as pd

    client = Client(server.port)
    problems: list[str] = []
    rss: list[float] = []
    bad_kinds: dict[str, int] = {}
    for i in range(count):
        if i % max(1, count // 10) == 0:
            rss.append(server.rss_mb())
        if requests.rng.random() < 1 / 3:
            kind, body = requests.bad()
            status, answer, _ = client.post(body)
            bad_kinds[kind] = bad_kinds.get(kind, 0) + 1
            if status != 400 or "stack_trace" in answer:
                problems.append(f"{kind}: HTTP {status}, {str(answer)[:200]}")
            continue
        rows = [requests.row()]
        status, answer, _ = client.post(body_of(rows))
        found = answer_problems(rows, status, answer)
        if not found:
            expected = model.predict(pd.DataFrame(rows)).iloc[0]
            got = answer["predictions"][0]
            for key in ("predicted_runtime_s", "upper_bound_s"):
                if not np.isclose(got[key], expected[key], rtol=1e-12, atol=0):
                    found.append(f"{key} {got[key]} != {expected[key]} for {rows[0]}")
        problems.extend(found)
    rss.append(server.rss_mb())
    growth = rss[-1] - rss[1] if len(rss) > 2 else rss[-1] - rss[0]
    if growth > RSS_GROWTH_LIMIT_MB:
        problems.append(f"server RSS grew {growth:.1f} MB over the loop: {rss}")
    return {"requests": count, "bad": sum(bad_kinds.values()), "bad_kinds": bad_kinds,
            "rss_mb": [round(r, 1) for r in rss], "rss_growth_mb": round(growth, 1),
            "problems": problems[:20]}


def examples_of_errors(port: int, requests: Requests) -> dict[str, Any]:
    """One answer of each kind of bad request, as the client sees it."""
    client = Client(port)
    shown: dict[str, Any] = {}
    while len(shown) < 8:
        kind, body = requests.bad()
        if kind not in shown:
            status, answer, _ = client.post(body)
            shown[kind] = {"status": status, **answer}
    return shown


# ---------------------------------------------------------------------------- main


#: The speed targets: (phase, figure, pitot-tf serve's goal, mlflow models serve's goal);
#: a figure ending in ``_ms`` must be at most its goal, any other at least.
TARGETS = (
    ("one", "p50_ms", 2.0, 3.0),
    ("eight", "requests_per_s", 600.0, None),
    ("batch records", "rows_per_s", 150_000.0, None),
    ("batch split", "rows_per_s", 250_000.0, None),
    ("batch split+columns", "rows_per_s", 250_000.0, None),
    ("batch inputs+columns", "rows_per_s", 250_000.0, None),
)


@contextmanager
def serving(kind: str, model: Path, workers: int, log: Path) -> Iterator[Server]:
    server = Server(kind, model, workers, log)
    try:
        yield server
    finally:
        server.stop()


def serve_and_measure(settings: Settings, kind: str, model_dir: Path, local: Any,
                      requests: Requests) -> dict[str, Any]:
    """Every phase against one server (``pitot`` or ``mlflow``)."""
    workers = settings.workers if kind == "pitot" else settings.mlflow_workers
    one_row = [(rows, body_of(rows)) for rows in ([requests.row()] for _ in range(10_000))]
    batches = [requests.rows(settings.batch_rows) for _ in range(settings.batches)]
    report: dict[str, Any] = {"server": kind, "workers": workers}
    with serving(kind, model_dir, workers, settings.workdir / f"{kind}.log") as server:
        run_phase("warm-up", server, one_row[:100], 2)
        phases = [
            run_phase("one", server, one_row[:settings.one], 1),
            run_phase("eight", server, one_row[:settings.eight], 8),
            *(run_phase(f"batch {form}", server, [(rows, body_of(rows, form)) for rows in batches],
                        settings.batch_clients) for form in FORMS),
        ]
        for phase in phases:
            emit({"server": kind, "workers": workers, **phase.summary()})
        report["phases"] = [phase.summary() for phase in phases]
        report["mixed"] = mixed(server, local, requests, settings.mixed)
        report["errors"] = examples_of_errors(server.port, requests)
    report["problems"] = [p for phase in phases for p in phase.problems[:5]]
    report["problems"] += report["mixed"]["problems"]
    return report


def target_table(reports: list[dict[str, Any]]) -> str:
    """The targets against each server's figures, as a Markdown table."""
    names = {"pitot": "pitot-tf serve", "mlflow": "mlflow models serve"}
    head = ["figure"] + [f"{names[r['server']]} -w {r['workers']}" for r in reports]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for phase, figure, *goals in TARGETS:
        cells = [f"{phase}: {figure}"]
        for report in reports:
            goal = goals[0] if report["server"] == "pitot" else goals[1]
            found = {p["phase"]: p for p in report["phases"]}.get(phase, {}).get(figure)
            if found is None:
                cells.append("-")
                continue
            if goal is None:
                cells.append(f"{found:,}")
                continue
            met = found <= goal if figure.endswith("_ms") else found >= goal
            sign = "≤" if figure.endswith("_ms") else "≥"
            cells.append(f"{found:,} ({sign} {goal:,.0f}: {'met' if met else 'NOT met'})")
        lines.append("| " + " | ".join(cells) + " |")
    loads = ", ".join(f"{p['load_average_1min']:.1f}" for r in reports for p in r["phases"])
    lines.append(f"\nload average (1 min) during the phases: {loads}")
    return "\n".join(lines)


def run(settings: Settings) -> dict[str, Any]:
    import mlflow.pyfunc

    import pitot_tf.serving.pyfunc  # noqa: F401  (this checkout's, not the model's copy)

    model_dir = settings.model or train_and_log(
        settings.workdir, settings.data_dir, settings.steps, "serve-load")
    requests = Requests(*names_of(model_dir), seed=settings.seed)
    local = mlflow.pyfunc.load_model(str(model_dir))
    kinds = ("pitot", "mlflow") if settings.server == "both" else (settings.server,)
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": load_average(),
                              "servers": [serve_and_measure(settings, kind, model_dir, local,
                                                            requests) for kind in kinds]}
    report["breakdown"] = breakdown(local, requests, settings.batch_rows)
    report["load_average_after"] = load_average()
    report["targets"] = target_table(report["servers"])
    report["problems"] = [p for server in report["servers"] for p in server["problems"]]
    return report


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_options(parser, steps=200, overrides=False,
                     data_help="dataset folder (default: $PITOT_DATA, else the packaged one)")
    parser.add_argument("--model", type=Path, help="a pyfunc-model folder (skips training)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--server", choices=("both", "pitot", "mlflow"), default="both",
                        help="pitot-tf serve, then mlflow models serve (both), or one")
    for name, default in (("workers", 2), ("mlflow-workers", 1), ("one", 1000),
                          ("eight", 2000), ("batches", 40), ("batch-clients", 2),
                          ("mixed", 3000), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    data = args.data_dir or os.environ.get("PITOT_DATA")
    settings = Settings(
        data_dir=Path(data).resolve() if data else None,
        workdir=work_folder(args.workdir, "pitot-serve-load-"),
        model=args.model.resolve() if args.model else None, server=args.server,
        steps=args.steps, workers=args.workers, mlflow_workers=args.mlflow_workers,
        one=args.one, eight=args.eight, batches=args.batches,
        batch_clients=args.batch_clients, mixed=args.mixed, seed=args.seed,
        keep=args.keep or args.workdir is not None)
    return settings


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        report = run(settings)
    finally:
        if not settings.keep:
            shutil.rmtree(settings.workdir, ignore_errors=True)
    print(report["targets"], flush=True)
    emit(report)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
