"""``pitot-tf plan`` on a saved pyfunc model folder: the table and JSON answers, a measured
file's rows never proposed again, a new workload from its features, and bad input as one
line with exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planning_support import Served, served_model
from reliability_cli import assert_one_line_error, pitot


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return served_model(tmp_path_factory.mktemp("cli-plan"))


def plan(served: Served, *args: str) -> list[dict[str, object]]:
    outcome = pitot("plan", "--model-uri", str(served.folder), *args, "--json")
    assert outcome.code == 0, outcome
    answer = json.loads(outcome.out.strip().splitlines()[-1])
    return answer["proposals"]  # type: ignore[no-any-return]


def test_table_and_json_propose_the_same_rows(served: Served) -> None:
    w = str(served.dataset.workloads.names[2])
    rows = plan(served, "--workload", w, "--budget", "3", "--strategy", "doptimal")
    assert len(rows) == 3 and all(r["upper_bound_s"] > r["predicted_runtime_s"] > 0
                                  for r in rows)
    text = pitot("plan", "--model-uri", str(served.folder), "--workload", w, "--budget", "3",
                 "--strategy", "doptimal")
    assert text.code == 0 and "by doptimal" in text.out
    assert all(str(r["platform"]) in text.out for r in rows)


def test_cost_exponent_names_its_gain(served: Served) -> None:
    w = str(served.dataset.workloads.names[2])
    text = pitot("plan", "--model-uri", str(served.folder), "--workload", w, "--budget", "2",
                 "--strategy", "cost-variance", "--cost-exponent", "0.35")
    assert text.code == 0, text.out
    assert "predictive variance removed per (predicted seconds)^0.35" in text.out


def test_measured_rows_are_not_proposed_again(served: Served, tmp_path: Path) -> None:
    names = served.dataset.platforms.names
    w = str(served.dataset.workloads.names[1])
    first = plan(served, "--workload", w, "--budget", "4", "--strategy", "cost")
    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps([{"platform": r["platform"], "runtime_s": 0.5}
                                    for r in first]))
    rest = plan(served, "--workload", w, "--budget", str(len(names) - 4), "--strategy", "cost",
                "--measured", str(measured))
    assert {r["platform"] for r in rest} == set(map(str, names)) - {r["platform"] for r in first}


def test_co_runner_sets_and_a_new_workload(served: Served, tmp_path: Path) -> None:
    workloads = served.dataset.workloads
    features = tmp_path / "features.txt"
    features.write_text(" ".join(str(v) for v in workloads.features[3]))
    rows = plan(served, "--workload", "brand/new", "--workload-features", str(features),
                "--co-runners", str(workloads.names[0]), "--budget", "20",
                "--strategy", "disagreement")
    assert any(r["co_runners"] == [str(workloads.names[0])] for r in rows)
    assert len({(r["platform"], tuple(r["co_runners"])) for r in rows}) == 20


@pytest.mark.parametrize(("args", "fragments"), [
    (["--workload", "nobody"], ["unknown workload 'nobody'", "--workload-features"]),
    (["--budget", "0"], ["budget must be at least 1, got 0"]),
    (["--budget", "101"], ["budget 101 is over the limit of 100"]),
    (["--strategy", "best"], ["unknown strategy 'best'"]),
    (["--co-runners", "nobody"], ["--co-runners: unknown workload 'nobody'"]),
    (["--cost-exponent", "2"], ["cost exponent must be between 0 and 1, got 2.0"]),
])
def test_bad_options_are_one_line_errors(served: Served, args: list[str],
                                         fragments: list[str]) -> None:
    w = str(served.dataset.workloads.names[0])
    assert_one_line_error(pitot("plan", "--model-uri", str(served.folder), "--workload", w,
                                *args), *fragments)


@pytest.mark.parametrize(("content", "fragments"), [
    ('[{"platform": "nowhere", "runtime_s": 1}]', ["row 0: platform: unknown platform"]),
    ('[{"platform": "P0", "runtime_s": 1}, {"platform": "P0", "runtime_s": -3}]',
     ["row 1: runtime_s must be a finite positive number", "-3"]),
    ('[{"platform": "P0", "runtime_s": "NaN"}]', ["row 0: runtime_s"]),
    ('[{"runtime_s": 1}]', ["row 0: platform is missing"]),
    ('[{"platform": "P0", "runtime_s": 1, "speed": 2}]', ["row 0: unknown field(s) speed"]),
    ('[{"platform": "P0", "co_runners": ["ghost"], "runtime_s": 1}]',
     ["row 0: co_runners: unknown workload 'ghost'"]),
    ("[1, 2", ["not JSON"]),
])
def test_bad_measured_files_name_the_row_and_field(served: Served, tmp_path: Path,
                                                   content: str, fragments: list[str]) -> None:
    platform = str(served.dataset.platforms.names[0])
    path = tmp_path / "measured.json"
    path.write_text(content.replace('"P0"', json.dumps(platform)))
    w = str(served.dataset.workloads.names[0])
    outcome = pitot("plan", "--model-uri", str(served.folder), "--workload", w,
                    "--measured", str(path))
    assert_one_line_error(outcome, str(path), *fragments)


def test_a_platform_is_planned_over_workloads(served: Served, tmp_path: Path) -> None:
    p = str(served.dataset.platforms.names[1])
    workloads = list(map(str, served.dataset.workloads.names))
    measured = tmp_path / "measured.csv"
    measured.write_text(f"workload,runtime_s\n{workloads[0]},0.5\n{workloads[1]},0.7\n")
    outcome = pitot("plan", "--model-uri", str(served.folder), "--platform", p, "--budget", "5",
                    "--strategy", "variance", "--measured", str(measured), "--json")
    assert outcome.code == 0, outcome
    answer = json.loads(outcome.out.strip().splitlines()[-1])
    assert answer["platform"] == p and "workload" not in answer
    rows = answer["proposals"]
    assert len({r["workload"] for r in rows}) == 5
    assert {r["workload"] for r in rows} <= set(workloads) - set(workloads[:2])
    text = pitot("plan", "--model-uri", str(served.folder), "--platform", p, "--budget", "2")
    assert text.code == 0 and f"measurement(s) of {p} by variance" in text.out


@pytest.mark.parametrize(("args", "fragments"), [
    ([], ["give --workload or --platform (one of them)"]),
    (["--workload", "W0", "--platform", "P0"], ["give --workload or --platform"]),
    (["--platform", "nowhere"], ["unknown platform 'nowhere'", "--platform-features"]),
    (["--platform", "P0", "--workload-features", "f.txt"], ["describe a new workload"]),
    (["--workload", "W0", "--platform-features", "f.txt"], ["describes a new platform"]),
])
def test_which_entity_to_plan_is_one_line_when_unclear(served: Served, args: list[str],
                                                       fragments: list[str]) -> None:
    names = {"W0": str(served.dataset.workloads.names[0]),
             "P0": str(served.dataset.platforms.names[0])}
    args = [names.get(a, a) for a in args]
    assert_one_line_error(pitot("plan", "--model-uri", str(served.folder), *args), *fragments)


def test_a_platforms_measured_file_names_workloads(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "measured.json"
    path.write_text(json.dumps([{"platform": str(served.dataset.platforms.names[2]),
                                 "runtime_s": 1}]))
    outcome = pitot("plan", "--model-uri", str(served.folder), "--platform",
                    str(served.dataset.platforms.names[0]), "--measured", str(path))
    assert_one_line_error(outcome, str(path), "row 0: unknown field(s) platform")


def test_a_new_platform_is_planned_from_its_features(served: Served, tmp_path: Path) -> None:
    platforms, workloads = served.dataset.platforms, served.dataset.workloads
    features = tmp_path / "platform.txt"
    features.write_text(" ".join(str(v) for v in platforms.features[5]))
    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps([{"workload": str(workloads.names[0]), "runtime_s": 0.02}]))
    rows = plan(served, "--platform", "brand/new-device", "--platform-features", str(features),
                "--measured", str(measured), "--budget", "6", "--strategy", "variance")
    names = {r["workload"] for r in rows}
    assert len(names) == 6 and str(workloads.names[0]) not in names
    assert all(0 < r["predicted_runtime_s"] < r["upper_bound_s"] for r in rows)
    bad = tmp_path / "short.txt"
    bad.write_text("1 2")
    outcome = pitot("plan", "--model-uri", str(served.folder), "--platform", "brand/new-device",
                    "--platform-features", str(bad))
    assert_one_line_error(outcome, "platform_features", "features, got 2")
