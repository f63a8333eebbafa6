"""Every figure draws from a summary table or arrays: generated tables, a tiny trained model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pitot_tf.reporting import analysis, figures
from pitot_tf.reporting.summary import summarize

PRESETS = ["pitot", "baseline/factorization", "baseline/monolith", "baseline/attention",
           "conformal/naive", "conformal/optimal", "components/ignore", "features/blackbox",
           "interference/4", "embedding/64", "learned/2", "weight/0.2"]


def fake_summary(presets: list[str] = PRESETS, replicates: int = 2, seed: int = 0
                 ) -> pd.DataFrame:
    """A summary computed from random per-run rows: 2 levels × mf/if2 × 10 α."""
    rng = np.random.default_rng(seed)
    rows = []
    alphas = np.round(np.arange(0.10, 0.0, -0.01), 2)
    for preset, level, objective, replicate in itertools.product(
            presets, (0.3, 0.5), ("mf", "if2"), range(replicates)):
        mape = rng.uniform(0.05, 0.3)
        for alpha in alphas:
            rows.append({"run_id": f"{preset}{level}{objective}{replicate}", "preset": preset,
                         "family": preset.split("/")[0], "level": level, "replicate": replicate,
                         "objective": objective, "alpha": alpha, "mape": mape,
                         "coverage": 1 - alpha, "width": mape / alpha / 10, "wall_s": 1.0})
    return summarize(pd.DataFrame(rows))


def lines(figure: Figure) -> int:
    return sum(len(ax.get_lines()) for ax in figure.axes)


def test_mape_figure_has_a_panel_per_objective_and_a_line_per_baseline() -> None:
    figure = figures.mape_vs_level(fake_summary())
    assert [ax.get_title() for ax in figure.axes] == ["if2 (2-way interference)",
                                                      "mf (no interference)"]
    legends = [[t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[union-attr]
               for ax in figure.axes]
    assert legends == [list(figures.BASELINES)] * 2


def test_tightness_uses_the_level_nearest_half_and_all_alphas() -> None:
    table = fake_summary()
    figure = figures.tightness_vs_alpha(table, figures.CQR)
    assert "level 0.5" in figure.texts[0].get_text()
    first = figure.axes[0].get_lines()[0]
    assert np.size(first.get_xdata()) == 10


def test_relative_mape_is_zero_for_the_reference() -> None:
    table = figures.relative_mape(fake_summary())
    assert np.allclose(table[table["preset"] == "pitot"]["relative"], 0.0)
    assert np.isfinite(table["relative"]).all()


def test_every_summary_figure_draws_and_saves(tmp_path: Path) -> None:
    drawn = figures.summary_figures(fake_summary())
    assert set(drawn) == {"mape_vs_level.png", "tightness_baselines.png", "tightness_cqr.png",
                          *[f"ablation_{name}.png" for name in figures.ABLATIONS]}
    assert all(lines(f) > 0 for f in drawn.values())
    paths = figures.save_figures(drawn, tmp_path)
    assert all(p.stat().st_size < 200_000 for p in paths)


def test_ablation_at_one_level_draws_a_bar_per_preset() -> None:
    table = fake_summary(["pitot", "embedding/8", "embedding/64"], replicates=1)
    table = table[table["level"] == 0.5]
    figure = figures.ablation_plot(table, ["embedding/*"], "embedding")
    assert "level 0.5" in figure.texts[0].get_text()
    relative = figures.relative_mape(table).query("objective == 'mf'").set_index("preset")
    mf = figure.axes[1]
    names = [t.get_text() for t in mf.get_yticklabels()]
    assert sorted(names) == ["embedding/64", "embedding/8"]
    widths = [patch.get_width() for patch in mf.patches]
    assert widths == pytest.approx([100 * relative.loc[p, "relative"] for p in names])


@pytest.mark.parametrize("presets", [["pitot"], ["baseline/monolith"], ["weight/0.2"]])
def test_partial_or_empty_summaries_still_draw(presets: list[str]) -> None:
    table = fake_summary(presets, replicates=1)
    for figure in [figures.mape_vs_level(table), figures.tightness_vs_alpha(table),
                   figures.ablation_plot(table, ["weight/*"], "weight")]:
        assert isinstance(figure, Figure)
    empty = table.iloc[:0]
    assert figures.summary_figures(empty) == {}
    assert "no runs" in figures.mape_vs_level(empty).axes[0].texts[0].get_text()


def test_interference_norm_is_the_spectral_norm_of_vs_transposed_vg() -> None:
    rng = np.random.default_rng(0)
    v_s, v_g = rng.normal(size=(5, 2, 4)), rng.normal(size=(5, 2, 4))
    norms = analysis.interference_norms(v_s, v_g)
    assert norms[3] == pytest.approx(np.linalg.norm(v_s[3].T @ v_g[3], 2))
    assert np.allclose(analysis.interference_norms(np.zeros((2, 1, 3)), v_g[:2, :1]), 0.0)


def test_measured_slowdown_divides_by_the_runtime_alone(synth_dataset) -> None:  # type: ignore[no-untyped-def]
    slowdown = analysis.measured_slowdown(synth_dataset)
    assert slowdown.shape == (len(synth_dataset.platforms),)
    alone, paired = synth_dataset.objectives["mf"], synth_dataset.objectives["if2"]
    p = int(paired.platform[0])
    base = {(int(a), int(b)): t for a, b, t in zip(alone.platform, alone.workload,
                                                   alone.log_runtime, strict=True)}
    ratios = [lt - base[(p, int(w))] for pp, w, lt in zip(paired.platform, paired.workload,
                                                          paired.log_runtime, strict=True)
              if pp == p and (p, int(w)) in base]
    assert slowdown[p] == pytest.approx(np.exp(np.mean(ratios)))
    assert np.isnan(analysis.measured_slowdown(synth_dataset, "if9")).all()


def test_labels_come_from_features_or_name_prefixes(synth_dataset) -> None:  # type: ignore[no-untyped-def]
    runtimes = analysis.platform_labels(synth_dataset.platforms, "runtime", ":")
    assert set(runtimes) <= {"iwasm-i", "wasm3-i", "wasmtime-a", "wasmer-j-cl", "(none)"}
    assert analysis.platform_labels(synth_dataset.platforms, "nothing", "-")[0] == "synth"
    assert list(analysis.name_prefix(["polybench/w00", "plain"], "/")) == ["polybench", "plain"]


def test_array_plots_draw_from_synthetic_input() -> None:
    rng = np.random.default_rng(1)
    points = analysis.tsne_points(rng.normal(size=(12, 4)))
    assert points.shape == (12, 2)
    assert analysis.tsne_points(rng.normal(size=(2, 4))).shape == (2, 2)
    labels = np.array(["a", "b", "c"] * 4)
    assert len(analysis.tsne_plot(points, labels, "t").axes[0].collections) == 3
    slowdown = rng.uniform(1, 2, 12)
    slowdown[0] = np.nan
    figure = analysis.interference_plot(rng.uniform(0, 1, 12), slowdown, labels)
    assert "Spearman" in figure.axes[0].get_title()
    table = pd.DataFrame({"objective": ["mf", "if2"], "grouping": ["runtime"] * 2,
                          "group": ["x", "x"], "n": [3, 3], "mape": [0.1, np.inf]})
    assert len(analysis.error_by_group_plot(table).axes[0].patches) == 2


def test_analysis_of_a_trained_pitot_model(synth_dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pitot_tf.data.splits import make_split
    from pitot_tf.presets import resolve
    from pitot_tf.training import train

    split = make_split(synth_dataset, 0.5)
    config = resolve("pitot", {"training.steps": 20, "training.val_every": 10,
                               "training.progress": False, "training.jit_compile": False,
                               "model.layers": [8], "model.mf_dim": 4})
    model = train(config, synth_dataset, split).model
    embeddings = analysis.model_embeddings(model)
    assert embeddings["workload"].shape == (len(synth_dataset.workloads), 4)
    assert embeddings["susceptibility"].shape == (len(synth_dataset.platforms), 2, 4)
    errors = analysis.error_by_group(model, synth_dataset, split)
    assert set(errors["grouping"]) == {"runtime", "uarch"}
    totals = errors.groupby(["objective", "grouping"], as_index=False)["n"].sum()
    for objective, n in zip(totals["objective"], totals["n"], strict=True):
        assert n == len(split.rows(str(objective), "test"))
    drawn = analysis.analysis_figures(model, synth_dataset, split)
    assert len(figures.save_figures(drawn, tmp_path)) == 5
