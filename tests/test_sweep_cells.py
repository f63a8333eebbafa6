"""Sweep definitions, cell keys, the reuse key and process liveness (no training)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitot_tf.data.splits import save_split, split_path
from pitot_tf.errors import ConfigError, DataError
from pitot_tf.sweep.cells import Cell, make_plan
from pitot_tf.sweep.keys import KeyMaker, config_hash, split_identity, sweep_id
from pitot_tf.tracking.liveness import ProcessId, process_tags, tagged_process


def test_plan_levels_and_replicates_default_drop_repeats_and_are_checked() -> None:
    plan = make_plan(["pitot"])
    assert plan.levels == pytest.approx([0.1 * i for i in range(1, 10)])
    assert plan.replicates == (0, 1, 2, 3, 4)
    plan = make_plan(["pitot"], [0.5, 0.1, 0.5], [0, 2, 0])
    assert (plan.levels, plan.replicates) == ((0.5, 0.1), (0, 2))
    with pytest.raises(DataError, match="level must be in"):
        make_plan(["pitot"], [1.5])
    with pytest.raises(ConfigError, match="replicates must be >= 0"):
        make_plan(["pitot"], None, [-1])


def test_plan_expands_globs_and_checks_every_preset_with_the_overrides() -> None:
    plan = make_plan(["pitot", "baseline/*"], [0.5], [0, 1], {"training.steps": 10})
    assert plan.presets == ("pitot", "baseline/factorization", "baseline/monolith",
                            "baseline/attention")
    cells = plan.cells()
    assert len(cells) == 4 * 1 * 2
    assert cells[0] == Cell("pitot", 0.5, 0)
    assert plan.cell_overrides() == {"training.progress": False, "training.steps": 10}
    with pytest.raises(ConfigError, match="no preset matches 'nothing/\\*'"):
        make_plan(["nothing/*"])
    with pytest.raises(ConfigError):
        make_plan(["pitot"], overrides={"model.no_such_key": 1})
    with pytest.raises(ConfigError, match=r"^preset baseline/monolith: model.layers=\[16\] would "
                                          "be ignored: model.kind=monolith does not read it"):
        make_plan(["pitot", "baseline/*"], overrides={"model.layers": [16]})


def test_cell_keys_round_trip_even_with_slashes_in_the_preset() -> None:
    cell = Cell("baseline/monolith", 0.3, 2)
    assert cell.key == "baseline/monolith|0.3|2"
    assert Cell.from_key(cell.key) == cell


def test_sweep_key_changes_with_what_decides_the_numbers(synth_dir: Path) -> None:
    keys = KeyMaker({"training.steps": 10}, synth_dir, code="v1")
    base = keys.key(Cell("pitot", 0.5, 0))
    assert keys.key(Cell("pitot", 0.5, 0)) == base
    assert keys.key(Cell("pitot", 0.5, 1)) != base
    assert keys.key(Cell("pitot", 0.4, 0)) != base
    assert keys.key(Cell("learned/1", 0.5, 0)) != base  # same config, other preset name
    assert KeyMaker({"training.steps": 11}, synth_dir, code="v1").key(
        Cell("pitot", 0.5, 0)) != base
    assert KeyMaker({"training.steps": 10}, synth_dir, code="v2").key(
        Cell("pitot", 0.5, 0)) != base
    progress = KeyMaker({"training.steps": 10, "training.progress": True}, synth_dir, code="v1")
    assert progress.key(Cell("pitot", 0.5, 0)) == base  # the progress bar changes nothing


def test_split_identity_hashes_the_split_file(synth_dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pitot_tf.data.splits import make_split

    assert split_identity(None, 0.5, 0) == "made:level=0.5,replicate=0"
    with pytest.raises(DataError, match="split file not found"):
        split_identity(tmp_path, 0.5, 0)
    save_split(make_split(synth_dataset, 0.5, 0, seed=1), split_path(tmp_path, 0.5, 0))
    first = split_identity(tmp_path, 0.5, 0)
    save_split(make_split(synth_dataset, 0.5, 0, seed=2), split_path(tmp_path, 0.5, 0))
    assert first.startswith("file:") and split_identity(tmp_path, 0.5, 0) != first


def test_sweep_id_depends_on_cells_experiment_and_model_logging() -> None:
    keys = {"pitot|0.5|0": "a", "pitot|0.5|1": "b"}
    first = sweep_id(keys, "sweep", True)
    assert len(first) == 12
    assert sweep_id(dict(reversed(keys.items())), "sweep", True) == first
    assert sweep_id(keys, "other", True) != first
    assert sweep_id(keys, "sweep", False) != first
    assert sweep_id({**keys, "pitot|0.5|1": "c"}, "sweep", True) != first


def test_config_hash_ignores_only_the_progress_bar() -> None:
    from pitot_tf.presets import resolve

    base = config_hash(resolve("pitot", {"training.progress": False}))
    assert config_hash(resolve("pitot", {"training.progress": True})) == base
    assert config_hash(resolve("pitot", {"seed": 1})) != base


def test_a_finished_process_is_dead_and_this_one_alive() -> None:
    me = ProcessId.this()
    assert not me.is_gone() and me.pid == os.getpid()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert ProcessId(me.host, child.pid).is_gone()
    assert not ProcessId("another-host", child.pid).is_gone()  # cannot tell: assume alive


def test_a_reused_pid_with_another_start_time_is_dead() -> None:
    me = ProcessId.this()
    assert tagged_process(process_tags(me)) == ProcessId(me.host, me.pid,
                                                         round(float(me.start or 0), 2))
    assert not tagged_process(process_tags(me)).is_gone()  # type: ignore[union-attr]
    later = process_tags(me) | {"pitot.pid_start": f"{float(me.start or 0) + 10:.2f}"}
    assert tagged_process(later).is_gone()  # type: ignore[union-attr]


@pytest.mark.parametrize("shift", [-1.0, 1.0])
def test_a_start_time_moved_by_the_boot_time_clock_is_still_this_process(shift: float) -> None:
    """Linux recomputes the boot time psutil adds to a start at every read: a clock slewed by
    NTP moves a live process's start by a whole second (it failed a live search trial)."""
    me = ProcessId.this()
    assert not ProcessId(me.host, me.pid, float(me.start or 0) + shift).is_gone()
    assert tagged_process({"pitot.host": me.host}) is None


