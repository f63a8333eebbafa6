"""Screenshots of a web UI through headless Chromium's DevTools protocol (no extra packages:
aiohttp comes with MLflow). Used by ``benchmarks/screenshots.sh`` for the docs' figures.

    python benchmarks/screenshot_ui.py OUT.png URL [--storage JSON] [--js JS] [--wait S]
    python benchmarks/screenshot_ui.py --mlflow WORK OUT_DIR     # the three MLflow figures

``--storage`` is a JSON object of localStorage items set on the page's origin before the
page is loaded again (e.g. the MLflow runs table's columns); ``--js`` runs after loading.
``--mlflow`` photographs the UI on 127.0.0.1:5056 of the store ``WORK/mlflow.db`` made by
``benchmarks/screenshots.sh``: the runs table, a run's plots and the compare view.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp

PORT = 9333


async def cdp(ws: aiohttp.ClientWebSocketResponse, method: str, counter: list[int],
              **params: object) -> dict:
    counter[0] += 1
    await ws.send_str(json.dumps({"id": counter[0], "method": method, "params": params}))
    while True:
        message = json.loads((await ws.receive()).data)
        if message.get("id") == counter[0]:
            return dict(message.get("result", {}))


async def shoot(out: Path, url: str, storage: dict[str, str], js: str, wait: float) -> None:
    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json").read())
    page = next(t for t in targets if t["type"] == "page")
    counter = [0]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            await cdp(ws, "Page.navigate", counter, url=url)
            await asyncio.sleep(wait)
            if storage:
                script = "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                                 for k, v in storage.items())
                await cdp(ws, "Runtime.evaluate", counter, expression=script)
                await cdp(ws, "Page.reload", counter)
                await asyncio.sleep(wait)
            if js:
                result = await cdp(ws, "Runtime.evaluate", counter, expression=js,
                                   returnByValue=True, awaitPromise=True)
                print(json.dumps(result.get("result", {}).get("value")))
                await asyncio.sleep(wait / 2)
            shot = await cdp(ws, "Page.captureScreenshot", counter, format="png")
            out.write_bytes(base64.b64decode(shot["data"]))


MLFLOW_UI = "http://127.0.0.1:5056/#"
COLUMNS = ["params.`preset`", "params.`level`", "params.`replicate`",
           "metrics.`test_mf_mape`", "metrics.`test_if2_mape`", "metrics.`test_if2_coverage_0.05`",
           "metrics.`test_if2_width_0.05`", "metrics.`search.val_loss`", "metrics.`best_val_loss`"]
TRAIN_FILTER = "tags.`pitot.kind` = 'train'"


def mlflow_figures(work: str, out: Path) -> None:
    """The runs table (training runs, parents expanded), a run's plots, the compare view."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{work}/mlflow.db")
    experiment = client.get_experiment_by_name("pitot").experiment_id
    runs = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    parents = [r.info.run_id for r in runs if r.data.tags.get("pitot.kind") in
               ("pipeline", "search")]
    pipeline = next(r for r in runs if r.data.tags.get("pitot.kind") == "pipeline")
    trained = pipeline.data.tags["pitot.step.train"]
    top = [r.info.run_id for r in runs if r.data.tags.get("pitot.kind") == "train"
           and "mlflow.parentRunId" not in r.data.tags]
    state = {"searchFilter": TRAIN_FILTER, "orderByKey": "attributes.start_time",
             "orderByAsc": False, "startTime": "ALL", "lifecycleFilter": "Active",
             "datasetsFilter": [], "modelVersionFilter": "All Runs", "selectedColumns": COLUMNS,
             "columnOrder": [], "columnWidths": {}, "runsExpanded": dict.fromkeys(parents, True),
             "runsPinned": [], "runsHidden": [], "runsVisibilityMap": {},
             "runsHiddenMode": "FIRST_10_RUNS", "viewMaximized": False, "runListHidden": False,
             "isAccordionReordered": False, "useGroupedValuesInCharts": True,
             "hideEmptyCharts": True, "groupBy": None, "groupsExpanded": {},
             "autoRefreshEnabled": False, "globalLineChartConfig": {
                 "xAxisKey": "step", "lineSmoothness": 0, "selectedXAxisMetricKey": ""}}
    storage = {f'MLflowLocalStorage-1.1-ExperimentPage-["{experiment}"]-ReactComponentState':
               json.dumps(state), "mlflow.assistant.panelOpen_v1": "false",
               "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true"}
    view = "workflowType=machine_learning"
    pages = {
        "mlflow_runs_table.png": f"{MLFLOW_UI}/experiments/{experiment}/runs?{view}"
                                 f"&searchFilter={urllib.parse.quote(TRAIN_FILTER)}",
        "mlflow_run_plots.png": f"{MLFLOW_UI}/experiments/{experiment}/runs/{trained}/artifacts/"
                                f"plots/predicted_vs_actual_if2.png?{view}",
        "mlflow_compare.png": f"{MLFLOW_UI}/compare-runs?runs="
                              f"{urllib.parse.quote(json.dumps([trained, *top]))}&experiments="
                              f"{urllib.parse.quote(json.dumps([experiment]))}&{view}",
    }
    for name, url in pages.items():
        run_browser(out / name, url, storage, "", 25.0, "1400,900")


def run_browser(out: Path, url: str, storage: dict[str, str], js: str, wait: float,
                size: str) -> None:
    """Start headless Chromium, take one screenshot, stop it."""
    browser = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-dev-shm-usage", f"--window-size={size}",
         f"--remote-debugging-port={PORT}", f"--user-data-dir=/tmp/pitot-shot-profile-{PORT}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json/version")
                break
            except OSError:
                time.sleep(0.5)
        asyncio.run(shoot(out, url, storage, js, wait))
    finally:
        browser.terminate()
        browser.wait()
    print(f"wrote {out}")


def main() -> None:
    if sys.argv[1:2] == ["--mlflow"]:
        mlflow_figures(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("url")
    parser.add_argument("--storage", default="{}")
    parser.add_argument("--js", default="")
    parser.add_argument("--wait", type=float, default=8.0)
    parser.add_argument("--size", default="1400,900")
    args = parser.parse_args()
    run_browser(args.out, args.url, json.loads(args.storage), args.js, args.wait, args.size)


if __name__ == "__main__":
    main()
