"""Plots and the claims table on small synthetic logs written to temporary run folders.

The logs here are made up to exercise the code; they are never results.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gmvae import runs  # noqa: E402
from gmvae.config import TrainConfig  # noqa: E402
from gmvae.reporting import claims, figures, plots, tables  # noqa: E402
from gmvae.reproduction import parameters, pipeline  # noqa: E402
from gmvae.reproduction.profiles import get_profile  # noqa: E402


def fake_log(epochs, entropy, loss, accuracy, nan_at=None) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    log = pd.DataFrame({c: np.zeros(epochs) for c in runs.LOG_COLUMNS})
    log["epoch"] = e
    log["test_entropy"] = log["train_entropy"] = entropy(e)
    log["test_loss"] = log["train_loss"] = loss(e)
    log["test_accuracy"] = accuracy(e)
    log["seconds"] = 1.0
    if nan_at is not None:
        log = log[log["epoch"] <= nan_at].copy()
        log.loc[log["epoch"] == nan_at, ["test_loss", "train_loss", "test_entropy", "test_accuracy"]] = np.nan
    return log


def write_run(results_dir, run_name, seed, log, nan_epoch=None, epochs=None):
    d = runs.run_dir(results_dir, run_name, seed)
    runs.write_log(d, log)
    model = "modified_m2" if run_name.startswith("modified_m2") else run_name
    config = TrainConfig(model=model, seed=seed, epochs=epochs or int(log["epoch"].max()), precision="float32")
    runs.write_record(d, {"config": dataclasses.asdict(config),  # as training writes it: a concrete precision
                          "status": {"completed_epochs": int(log["epoch"].max()), "nan_epoch": nan_epoch,
                                     "finished": True, "train_seconds": 1.0}})
    return d


LN10 = math.log(10)


def m2_log(epochs=20, **kw):
    return fake_log(epochs, lambda e: LN10 - 0.5 * np.exp(-e / 3), lambda e: 95 + 20 * np.exp(-e / 5),
                    lambda e: 0.113 + 0.2 * np.exp(-e / 3), **kw)


def modified_log(epochs=20, **kw):
    return fake_log(epochs, lambda e: 0.8 * np.exp(-e / 10) + 0.3, lambda e: 105 + 20 * np.exp(-e / 5),
                    lambda e: 0.6 - 0.3 * np.exp(-e / 5), **kw)


def gmvae_log(epochs=20, seed=0, **kw):
    return fake_log(epochs, lambda e: np.exp(-e / 10), lambda e: 100 + 20 * np.exp(-e / 5),
                    lambda e: 0.75 + 0.01 * seed - 0.3 * np.exp(-e / 5), **kw)


def note_place(note):
    """Where a reference line's note sits: its anchor (x in axes fractions, y in data: at the line's height) and which
    side of it the text is, 4 points off the line."""
    assert note.xycoords == ("axes fraction", "data") and note.anncoords == "offset points"
    above = note.xyann == (0, 4) and note.get_va() == "bottom"
    assert above or (note.xyann == (0, -4) and note.get_va() == "top")
    return note.xy, f"{'above' if above else 'below'}, {note.get_ha()}"


def is_reference_line(line) -> bool:
    """Dashed and dark grey, as every reference line (ln K, the majority-class rate, 80 %, the clipping threshold)."""
    return line.get_linestyle() == "--" and to_rgb(line.get_color()) == to_rgb("0.3")


@pytest.fixture
def results(tmp_path):
    write_run(tmp_path, "m2", 0, m2_log())
    write_run(tmp_path, "modified_m2", 0, modified_log(12, nan_at=12), nan_epoch=12, epochs=20)
    for seed in (0, 1):
        write_run(tmp_path, "gmvae", seed, gmvae_log(seed=seed))
    return tmp_path


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plots_does_not_import_tensorflow():
    # what draws figures and tables must stay TensorFlow-free at import time (redraw_figures relies on it)
    import subprocess

    code = ("import gmvae.reporting.plots, gmvae.reporting.figures, gmvae.reporting.tables, gmvae.reporting.claims, "
            "gmvae.reporting.fidelity, gmvae.reporting.original, gmvae.reproduction.pipeline, "
            "gmvae.reproduction.notebook_runner, gmvae.reproduction.parameters, sys; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_runs_long_form(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    assert {"run_name", "seed", "nan_epoch", "epoch", "test_entropy"} <= set(df.columns)
    assert sorted(df.groupby("run_name")["seed"].nunique().items()) == [("gmvae", 2), ("m2", 1), ("modified_m2", 1)]
    assert df.loc[df["run_name"] == "modified_m2", "nan_epoch"].eq(12).all()
    assert df.loc[df["run_name"] == "m2", "nan_epoch"].isna().all()
    assert df.index.equals(pd.RangeIndex(len(df)))  # one row per label: df.loc[i] is one row
    cut = plots.load_runs(results, ["gmvae"], seeds=[1], max_epoch=5)
    assert set(cut["seed"]) == {1} and cut["epoch"].max() == 5
    assert plots.load_runs(results, ["nothing"]).empty


def test_load_runs_reads_each_runs_configuration_provenance_and_nan_epoch_onto_every_row(tmp_path):
    """gmvae seed 2: K = 16, clipped at 5, batch 50, trained on "CPU A"; seed 0 (an older record): the machine as a
    string, no clipping; seed 3 turned NaN before its first logged epoch; seed 4's folder has neither log nor NaN;
    "seedx" and "notes" are no seed folders."""
    d = write_run(tmp_path, "gmvae", 2, gmvae_log(4))
    record = runs.read_record(d)
    record["config"].update(k=16, clip_norm=5.0, batch_size=50, iters_per_epoch=20)
    record["provenance"] = {"machine": {"processor": "CPU A"}}
    runs.write_record(d, record)
    d = write_run(tmp_path, "gmvae", 0, gmvae_log(3))
    record = runs.read_record(d)
    record["provenance"] = {"machine": "CPU B"}
    runs.write_record(d, record)
    d = write_run(tmp_path, "gmvae", 3, gmvae_log(1), nan_epoch=1)
    (d / "log.csv").unlink()
    record = runs.read_record(d)
    for older in ("k", "iters_per_epoch", "batch_size"):  # a record without K (the post's 10) or an epoch's size
        del record["config"][older]
    runs.write_record(d, record)
    runs.write_record(runs.run_dir(tmp_path, "gmvae", 4), {"config": {}, "status": {}})
    for other in ("seedx", "notes"):
        (tmp_path / "runs" / "gmvae" / other).mkdir()
    df = plots.load_runs(tmp_path, "gmvae")
    assert list(df.columns) == list(runs.LOG_COLUMNS) + ["run_name", "seed", "source", "nan_epoch", "k", "iters_per_epoch",
                                                          "batch_size", "clip_norm", "precision", "processor"]
    by_seed = {seed: g for seed, g in df.groupby("seed")}
    assert sorted(by_seed) == [0, 2, 3] and list(by_seed[2]["epoch"]) == [1, 2, 3, 4]
    two = by_seed[2].iloc[-1]
    assert (two["k"], two["clip_norm"], two["batch_size"], two["iters_per_epoch"], two["processor"], two["precision"],
            two["source"], two["run_name"]) == (16, 5.0, 50, 20, "CPU A", "float32", "ours", "gmvae")
    assert np.isnan(two["nan_epoch"]) and by_seed[0]["processor"].isna().all()  # an older record names no processor
    assert by_seed[0]["clip_norm"].isna().all() and by_seed[0]["k"].eq(10).all()
    three, = by_seed[3].itertuples()  # one row, so that its NaN mark shows
    assert (three.epoch, three.nan_epoch, three.k, three.precision, three.source) == (0, 1.0, 10, "float32", "ours")
    assert np.isnan(three.test_loss) and np.isnan(three.clip_norm)
    assert np.isnan(three.batch_size) and np.isnan(three.iters_per_epoch)
    assert plots.load_runs(tmp_path, ["gmvae"], max_epoch=0).empty  # logs begin at 1; seed 3 turned NaN after 0
    assert list(plots.load_runs(tmp_path, ["gmvae"], max_epoch=1)["seed"]) == [0, 2, 3]  # seed 3: NaN at the horizon
    assert list(plots.load_runs(tmp_path, ["gmvae"], seeds=[0, 3])["seed"].unique()) == [0, 3]
    empty = plots.load_runs(tmp_path, ["m2"])
    assert empty.empty and list(empty.columns) == list(df.columns)
    assert [str(empty[c].dtype) for c in ("run_name", "source", "precision", "processor", "epoch", "k")] == [
        "object"] * 4 + ["float64"] * 2

def test_plot_curves_panels_references_and_nan_marker(results, tmp_path):
    df = plots.load_runs(results, ["modified_m2"])
    fig = plots.plot_curves(df, title="synthetic")
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes] == [(1, 3)] * 3  # side by side, as the post's
    assert tuple(fig.get_size_inches()) == plots.FIGSIZE_WIDE and fig.get_layout_engine() is not None
    assert fig._suptitle.get_fontsize() == plots._STYLE["figure.titlesize"]
    entropy_ax, loss_ax, acc_ax = fig.axes
    assert [l.get_ydata()[0] for l in entropy_ax.lines if l.get_gid() == "ref_entropy"] == [pytest.approx(LN10)]
    assert [l.get_ydata()[0] for l in acc_ax.lines if l.get_gid() == "ref_majority"] == [pytest.approx(0.1135)]
    for ax, (_, title, ylabel) in zip(fig.axes, plots.PANELS):
        line, = [l for l in ax.lines if l.get_gid() == "nan_epoch"]
        marker, = [l for l in ax.lines if l.get_gid() == "nan_marker"]
        assert list(line.get_xdata()) == [12, 12] and line.get_linestyle() == ":"  # dotted, across the panel
        # an X at the top of the panel: x in epochs, y in axes fractions, drawn past the axes' edge
        assert (list(marker.get_xdata()), list(marker.get_ydata()), marker.get_marker()) == ([12], [1.0], "X")
        assert marker.get_transform() == ax.get_xaxis_transform() and not marker.get_clip_on()
        assert to_rgb(line.get_color()) == to_rgb(marker.get_color()) == to_rgb(plots.NAN_COLOR)
        assert (ax.get_title(), ax.get_ylabel()) == (title, ylabel)
        assert ax.get_xlabel() == "epoch (500 iterations of batch 100)"  # what an epoch is in these runs
        assert ax.get_xlim() == pytest.approx((0, 12 * 1.02))  # the NaN epoch is the last drawn
    assert "nats" in entropy_ax.get_ylabel() and "nats" in loss_ax.get_ylabel()
    notes = {ax: [t.get_text() for t in ax.texts] for ax in fig.axes}
    assert notes[entropy_ax] == ["ln 10 = 2.303: q(y|x) uniform"] and notes[loss_ax] == []
    assert notes[acc_ax] == ["majority-class rate 0.1135"]
    assert note_place(entropy_ax.texts[0]) == ((0.02, pytest.approx(LN10)), "above, left")
    assert note_place(acc_ax.texts[0]) == ((0.98, 0.1135), "below, right")  # under the line, where M2's curve is not
    assert acc_ax.get_ylim() == (0, 1.02) and entropy_ax.get_ylim()[0] == -0.05
    references = [l for ax in fig.axes for l in ax.lines if (l.get_gid() or "").startswith("ref_")]
    assert len(references) == 2 and all(is_reference_line(l) for l in references)
    assert entropy_ax.get_ylim()[1] >= LN10 * 1.15  # room above ln 10 for its note
    df.loc[df.index[0], "batch_size"] = 50  # runs of different batch sizes: an epoch is no one thing
    assert plots.plot_curves(df).axes[0].get_xlabel() == "epoch"
    path = plots.save_figure(fig, tmp_path / "figs" / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_curves_replicates_mean_and_band(results):
    df = plots.load_runs(results, ["gmvae"])
    fig = plots.plot_curves(df)
    ax = fig.axes[2]
    labels = [l.get_label() for l in ax.lines]
    assert "GMVAE (ours): 2 runs, mean and 68 % CI" in labels
    assert [c.get_gid() for c in ax.collections] == ["band"]  # the bootstrap band of the mean
    assert not any(l.get_gid() == "nan_epoch" for l in ax.lines)


def test_the_legends_caption_says_what_each_line_style_band_and_mark_is_and_nothing_more(results):
    caption = lambda fig: fig.legends[0].get_title().get_text()  # noqa: E731
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    assert caption(plots.plot_curves(df[df["run_name"] == "m2"])) == "Solid: ours."
    assert caption(plots.plot_curves(df[df["run_name"] == "gmvae"], original=original_logs())) == (
        "Solid: ours; thin: each of our runs. Dashed, lighter: the original's runs (RuiShu/vae-clustering's logs).\n"
        "Bands: ours, the 68 % bootstrap confidence interval (CI) of the mean, as in the post's figures; "
        "the original's, the min-max of its runs.")
    one_original = original_logs()[lambda d: d["seed"] == 0]
    assert caption(plots.plot_overlay(df, original=one_original, show_replicates=False)) == (
        "Solid: ours. Dashed, lighter: the original's runs (RuiShu/vae-clustering's logs).\n"
        "Bands: ours, the 68 % bootstrap confidence interval (CI) of the mean, as in the post's figures.\n"
        "Dotted line and dark grey X: a run of ours turned NaN at that epoch.")


def test_the_loss_insets_curves_are_the_panels_over_the_last_half_of_the_epochs_every_mean_reached(results):
    """Modified M2's loss is finite to epoch 11 (NaN at 12): the inset shows epochs 6-11 (half of 11, rounded; the
    original's logs, made up to end at 9, do not cut it), every mean and band of the panel in its colour and style, its
    y axis 8 % beyond the lowest and highest value there: modified M2's mean at epoch 6 and the lower edge of our GMVAE
    band at 11 (its seed 0 10 nats lower: the band's 68 % interval runs from seed 0 to seed 1)."""
    gmvae = gmvae_log()
    gmvae["test_loss"] -= 10
    write_run(results, "gmvae", 0, gmvae)
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    original = original_logs(epochs=9)
    original.loc[original["seed"] == 1, "test_loss"] += 3
    fig = plots.plot_overlay(df, original=original, zoom_loss=True)
    loss = fig.axes[1]
    inset, = loss.child_axes
    assert [ax.child_axes for ax in (fig.axes[0], fig.axes[2])] == [[], []]
    assert inset.get_xlim() == (6, 11) and inset.get_title() == "epochs 6-11, zoomed"
    fig.canvas.draw()  # places the inset: in the upper right of the panel, in axes fractions
    panel, box = loss.get_position(), inset.get_position()
    assert ((box.x0 - panel.x0) / panel.width, (box.y0 - panel.y0) / panel.height, box.width / panel.width,
            box.height / panel.height) == pytest.approx(plots.INSET_BOUNDS)
    drawn = [line for line in loss.lines if line.get_gid() in ("mean", "original_mean")]
    copied = [line for line in inset.lines if line.get_gid() in ("mean", "original_mean")]
    assert [(l.get_label(), l.get_color(), l.get_linestyle(), l.get_zorder()) for l in copied] == [
        (l.get_label(), l.get_color(), l.get_linestyle(), l.get_zorder()) for l in drawn]
    for line, copy in zip(drawn, copied):
        np.testing.assert_array_equal(copy.get_xydata(), line.get_xydata())
        assert copy.get_linewidth() == pytest.approx(line.get_linewidth() * plots.INSET_LINE_SCALE)
    bands = [band for band in loss.collections if band.get_gid() in ("band", "original_band")]
    copies = [band for band in inset.collections if band.get_gid() in ("band", "original_band")]
    assert [(b.get_label(), b.get_gid(), b.get_zorder(), b.get_hatch()) for b in copies] == [
        (b.get_label(), b.get_gid(), b.get_zorder(), b.get_hatch()) for b in bands]
    for band, copy in zip(bands, copies):
        for look in ("get_facecolor", "get_edgecolor", "get_linewidth"):
            np.testing.assert_array_equal(getattr(copy, look)(), getattr(band, look)())
        np.testing.assert_array_equal(*(np.unique(b.get_paths()[0].vertices, axis=0) for b in (copy, band)))
    e = np.arange(6, 12)
    theirs = gmvae_log(9)["test_loss"].to_numpy()[5:9]  # the original's runs: made up as our GMVAE's, and 3 higher
    values = np.concatenate([95 + 20 * np.exp(-e / 5), 105 + 20 * np.exp(-e / 5), 90 + 20 * np.exp(-e / 5),
                             100 + 20 * np.exp(-e / 5), theirs, theirs + 3])
    assert (values.max(), values.min()) == (105 + 20 * np.exp(-6 / 5), 90 + 20 * np.exp(-11 / 5))
    pad = (values.max() - values.min()) * 0.08
    assert inset.get_ylim() == pytest.approx((values.min() - pad, values.max() + pad), abs=0.01)  # logs: 5 digits
    indicator, = [c for c in loss.get_children() if type(c).__name__ == "InsetIndicator"]  # the zoomed region framed
    assert indicator.rectangle.get_edgecolor()[:3] == to_rgb(plots.INSET_FRAME_COLOR)
    short = plots.plot_overlay(df[df["epoch"] <= 2], zoom_loss=True)
    assert short.axes[1].child_axes[0].get_xlim() == (1, 2)  # the last half of two epochs: from the first
    # ticks at whole epochs, at most four intervals
    assert [[t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            for ax in (inset, short.axes[1].child_axes[0])] == [[6, 8, 10], [1, 2]]


def test_titles_name_each_model_its_replicates_the_horizon_and_the_original(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    title = lambda fig: fig._suptitle.get_text()  # noqa: E731
    assert title(plots.plot_curves(df)) == (
        "M2 (1 replicate), modified M2 (1 replicate), GMVAE (2 replicates): test-set curves to epoch 20")
    assert title(plots.plot_curves(df[df["run_name"] == "gmvae"], original=original_logs(), max_epoch=200)) == (
        "GMVAE (2 replicates): test-set curves to epoch 200, over the original's")
    assert title(plots.plot_curves(df, title="T")) == "T"
    assert title(plots.plot_overlay(df, run_names=["gmvae", "m2", "m2_iaf"], original=original_logs("m2"))) == (
        "GMVAE vs M2: test-set curves to epoch 20, over the original's")
    assert title(plots.plot_overlay(df, max_epoch=15)) == "M2 vs modified M2 vs GMVAE: test-set curves to epoch 15"
    assert title(plots.plot_overlay(df, run_names=["m2"], original=original_logs("gmvae"))) == (
        "M2: test-set curves to epoch 20")  # the original's logs hold no M2 here


def test_the_overlay_lays_out_up_to_three_panels_in_a_row_and_four_in_two_rows(results):
    df = plots.load_runs(results, ["m2", "gmvae"])
    df["test_mutual_information"], df["grad_norm_max"] = 0.5, 2.0  # positive norms: the panel is log-scaled
    three = plots.plot_overlay(df)
    assert [l.get_ydata()[0] for l in three.axes[2].lines if l.get_gid() == "ref_majority"] == [0.1135]
    four = plots.plot_overlay(df, panels=(plots.MUTUAL_INFORMATION_PANEL, *plots.PANELS))
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in (three.axes[0], four.axes[0])] == [(1, 3), (2, 2)]
    assert [ax.get_title() for ax in four.axes] == [title for _, title, _ in (plots.MUTUAL_INFORMATION_PANEL, *plots.PANELS)]
    assert tuple(three.get_size_inches()) == plots.FIGSIZE_WIDE and three.get_layout_engine() is not None
    assert three._suptitle.get_fontsize() == plots._STYLE["figure.titlesize"]
    assert tuple(four.get_size_inches()) == pytest.approx((14.0, 4.6 * 2 * 0.9))
    two = plots.plot_overlay(df, panels=plots.PANELS[:2])
    assert len(two.axes) == 2 and tuple(two.get_size_inches()) == plots.FIGSIZE_WIDE
    assert [ax.child_axes for ax in three.axes] == [[], [], []]  # no inset unless asked
    one = plots.plot_overlay(df, panels=(plots.GRADIENT_NORM_PANEL,))
    assert [ax.get_title() for ax in one.axes] == [plots.GRADIENT_NORM_PANEL[1]]
    five_panels = (plots.MUTUAL_INFORMATION_PANEL, *plots.PANELS, plots.GRADIENT_NORM_PANEL)
    five = plots.plot_overlay(df, panels=five_panels)  # three rows of two, without an empty sixth panel
    assert [ax.get_title() for ax in five.axes] == [title for _, title, _ in five_panels]
    assert [ax.get_subplotspec().get_geometry() for ax in five.axes] == [(3, 2, i, i) for i in range(5)]
    assert tuple(five.get_size_inches()) == pytest.approx((14.0, 4.6 * 3 * 0.9))


def test_the_legend_sits_below_the_panels_in_three_columns_or_two_for_long_entries(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    legend = plots.plot_overlay(df).legends[0]
    assert legend._ncols == 3 and legend.get_title().get_fontsize() == 10.5 and not legend.get_frame_on()
    assert legend._loc == 8  # lower center, outside the panels
    shutil.copytree(runs.run_dir(results, "gmvae", 0), runs.run_dir(results, "modified_m2_original_graph", 0))
    long = plots.plot_overlay(plots.load_runs(results, ["m2", "gmvae", "modified_m2_original_graph"])).legends[0]
    assert [len(t.get_text()) for t in long.get_texts()] == [16, 38, 57] and long._ncols == 2
    for name, columns in (("x" * 38, 3), ("x" * 39, 2)):  # entries up to 52 characters fit three to a row
        shutil.copytree(runs.run_dir(results, "m2", 0), runs.run_dir(results, name, 0))
        legend = plots.plot_overlay(plots.load_runs(results, ["m2", "gmvae", name])).legends[0]
        assert (max(len(t.get_text()) for t in legend.get_texts()), legend._ncols) == (len(name) + 14, columns)
    one = plots.plot_curves(df[df["run_name"] == "m2"]).legends[0]
    assert one._ncols == 1 and [t.get_text() for t in one.get_texts()] == ["M2 (ours): 1 run"]


def test_save_figure_writes_a_png_at_the_dpi_asked_into_a_new_folder_and_closes_it_if_asked(tmp_path):
    from PIL import Image

    fig, _ = plt.subplots(figsize=(2, 1))
    fig.text(1.2, 0.5, "past the right edge")  # drawn, so saved: the image grows to hold it
    path = plots.save_figure(fig, tmp_path / "new" / "folders" / "a.png")
    assert path == tmp_path / "new" / "folders" / "a.png" and plt.fignum_exists(fig.number)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.info["dpi"] == pytest.approx((plots.SAVE_DPI, plots.SAVE_DPI), abs=0.1)
        assert image.size[0] > 2.2 * plots.SAVE_DPI
    current, _ = plt.subplots()
    plots.save_figure(fig, tmp_path / "b.png", dpi=50, close=True)
    with Image.open(tmp_path / "b.png") as image:
        assert image.info["dpi"] == pytest.approx((50, 50), abs=0.1)
    assert not plt.fignum_exists(fig.number) and plt.fignum_exists(current.number)  # the one saved, not the current


def test_plot_curves_custom_majority_and_empty(results):
    df = plots.load_runs(results, ["m2"])
    fig = plots.plot_curves(df, majority=plots.majority_rate([0, 1, 1, 2]))
    assert [l.get_ydata()[0] for l in fig.axes[2].lines if l.get_gid() == "ref_majority"] == [0.5]
    with pytest.raises(ValueError, match=r"^plot_curves: no logs to draw \(empty DataFrame\)$"):
        plots.plot_curves(df.iloc[0:0])
    with pytest.raises(ValueError, match=r"^plot_overlay: no logs to draw \(empty DataFrame\)$"):
        plots.plot_overlay(df.iloc[0:0])


def test_plot_overlay_legend_and_colours(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    fig = plots.plot_overlay(df, run_names=["m2", "modified_m2", "gmvae"])
    assert len(fig.axes) == 3
    assert len(fig.legends) == 1  # one legend for the figure
    texts = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    for name in ("M2", "modified M2", "GMVAE"):
        assert name in texts
    colours = {l.get_color() for l in fig.axes[1].lines if l.get_gid() == "mean"}
    assert len(colours) == 3


def drawn_keys(legend):
    """What each legend entry's key draws, entry by entry: its parts as (kind, colour, line style or hatch, x extent)."""
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import DrawingArea

    keys = []
    for box in legend.findobj(DrawingArea):
        parts = []
        for part in box.get_children():
            if isinstance(part, Line2D):
                x = part.get_xdata()
                parts.append(("line", to_hex(part.get_color()), part.get_linestyle(), (x[0], x[-1])))
            else:
                parts.append(("band", to_hex(part.get_facecolor(), keep_alpha=True), part.get_hatch(),
                              (part.get_x(), part.get_x() + part.get_width())))
        keys.append(parts)
    return keys


def test_each_legend_key_draws_the_mean_over_its_band_across_the_whole_key(results):
    """A run of several replicates: its band (its colour, 30 % opaque; the original's lighter, 35 %) under its mean's
    line, both as wide as the key; a single run: its line alone."""
    df = plots.load_runs(results, ["m2", "gmvae"])
    m2, ours, theirs = drawn_keys(plots.plot_overlay(df, original=original_logs()).legends[0])
    width = m2[0][3]
    assert width[1] - width[0] > 10
    assert m2 == [("line", to_hex(plots.color("m2")), "-", width)]
    faded = lambda col, alpha: to_hex((*to_rgb(col), alpha), keep_alpha=True)  # noqa: E731
    red, pale = to_hex(plots.color("gmvae")), plots.original_color("gmvae")
    assert ours == [("band", faded(red, 0.3), None, width), ("line", red, "-", width)]
    assert theirs == [("band", faded(pale, 0.35), None, width), ("line", pale, "--", width)]


def test_a_variant_drawn_over_its_run_has_a_hatched_band_on_top_and_no_replicate_lines(tmp_path):
    """Clipped and unclipped modified M2, two replicates each, the same curves in both (no step reached the threshold):
    the clipped run's band hatched in its colour and unfilled, one layer above the unclipped run's filled band, so
    that both show; only the unclipped run's replicates drawn."""
    for seed in (0, 1):
        for run_name in ("modified_m2", "modified_m2_clip"):
            write_run(tmp_path, run_name, seed, gmvae_log(seed=seed))
    fig = plots.plot_overlay(plots.load_runs(tmp_path, ["modified_m2", "modified_m2_clip"]), zoom_loss=True)
    pink, green = to_hex(plots.color("modified_m2_clip")), to_hex(plots.color("modified_m2"))
    for ax in fig.axes:
        plain, hatched = [band for band in ax.collections if band.get_gid() == "band"]
        assert (plain.get_hatch(), hatched.get_hatch()) == (None, "////")
        assert to_hex(plain.get_facecolor()[0]) == green and plain.get_facecolor()[0][3] == 0.3
        assert len(hatched.get_facecolor()) == 0 and to_hex(hatched.get_edgecolor()[0]) == pink  # unfilled
        replicates = [line for line in ax.lines if line.get_gid() == "replicate"]
        assert [to_hex(line.get_color()) for line in replicates] == [green, green]
        assert plain.get_zorder() < max(line.get_zorder() for line in replicates) < hatched.get_zorder()
    keys = drawn_keys(fig.legends[0])
    assert [part[:3] for part in keys[1]] == [("band", "#00000000", "////"), ("line", pink, "-")]
    inset, = fig.axes[1].child_axes  # the loss panel's, its bands as hatched as the panel's
    assert [band.get_hatch() for band in inset.collections if band.get_gid() == "band"] == [None, "////"]


def test_the_entropy_panel_marks_ln_k_for_each_k_of_the_runs_drawn(results):
    df = plots.load_runs(results, ["m2", "gmvae"])

    def references(fig, gid="ref_entropy"):
        ax = fig.axes[0]
        return [line.get_ydata()[0] for line in ax.lines if line.get_gid() == gid], [t.get_text() for t in ax.texts]

    mixed = plots.plot_overlay(df.assign(k=np.where(df["run_name"] == "m2", 20, 16)))
    assert references(mixed) == ([pytest.approx(math.log(16)), pytest.approx(math.log(20))],
                                 ["ln 16 = 2.773: q(y|x) uniform", "ln 20 = 2.996: q(y|x) uniform"])
    assert mixed.axes[0].get_ylim()[1] == pytest.approx(math.log(20) * 1.15)  # room above the higher line's note
    assert references(plots.plot_curves(df.assign(k=16))) == ([pytest.approx(math.log(16))],
                                                            ["ln 16 = 2.773: q(y|x) uniform"])
    assert references(plots.plot_curves(df.assign(k=np.nan)))[1] == ["ln 10 = 2.303: q(y|x) uniform"]  # the post's K
    information = plots.plot_overlay(df.assign(k=16, test_mutual_information=0.5), panels=(plots.MUTUAL_INFORMATION_PANEL,))
    assert references(information, "ref_mutual_information") == ([pytest.approx(math.log(16))],
                                                                 ["ln 16 = 2.773: the most y can tell about x"])


def test_runs_the_overlay_has_no_colour_for_take_a_colour_each(results):
    shutil.copytree(runs.run_dir(results, "m2", 0), runs.run_dir(results, "mine", 0))
    shutil.copytree(runs.run_dir(results, "m2", 0), runs.run_dir(results, "yours", 0))
    fig = plots.plot_overlay(plots.load_runs(results, ["m2", "mine", "yours"]), original=original_logs("yours"))
    means = {line.get_label().split(" (ours)")[0]: line.get_color() for line in fig.axes[0].lines
             if line.get_gid() == "mean"}
    assert means == {"M2": plots.color("m2"), "mine": plots.color("mine", 1), "yours": plots.color("yours", 2)}
    assert len(set(means.values())) == 3
    theirs, = [line.get_color() for line in fig.axes[0].lines if line.get_gid() == "original_mean"]
    assert theirs == plots.original_color("yours", 2) == plots.lighter(means["yours"])  # the lighter of ours
    assert plots.original_color("mine") == plots.lighter(plots.color("mine")) == plots.lighter(plots.color("mine", 0))


def test_a_run_that_turned_nan_before_its_first_epoch_is_marked_beside_the_others_on_whole_epochs(tmp_path):
    """GMVAE seed 0 logs two epochs; seed 1 turned NaN before its first: drawn to epoch 2 with a grid, ticks at whole
    epochs, seed 1 a NaN mark at epoch 1 and no values, the mean seed 0's. Alone, seed 1 is drawn to epoch 1."""
    write_run(tmp_path, "gmvae", 0, gmvae_log(2))
    d = write_run(tmp_path, "gmvae", 1, gmvae_log(1), nan_epoch=1)
    (d / "log.csv").unlink()
    df = plots.load_runs(tmp_path, ["gmvae"])
    fig = plots.plot_curves(df)
    for ax, (column, _, _) in zip(fig.axes, plots.PANELS):
        replicates = [line.get_ydata() for line in ax.lines if line.get_gid() == "replicate"]
        assert len(replicates) == 2 and np.isnan(replicates[1]).all()
        mean, = [line for line in ax.lines if line.get_gid() == "mean"]
        np.testing.assert_array_equal(mean.get_ydata()[1:], df.loc[df["seed"] == 0, column])
        assert [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "nan_epoch"] == [1]
        assert ax.get_xlim() == pytest.approx((0, 2 * 1.02))
        assert [t for t in ax.get_xticks() if 0 <= t <= 2.04] == [0, 1, 2]  # whole epochs only
        assert all(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
        assert ax.get_xgridlines()[0].get_alpha() == plots.GRID_LOOK["alpha"]
    alone = plots.plot_curves(df[df["seed"] == 1])
    assert [ax.get_xlim() for ax in alone.axes] == [pytest.approx((0, 1.02))] * 3


def test_the_originals_count_leaves_out_epochs_where_none_of_its_runs_has_a_value(results):
    """Both of the original's runs turned NaN at epoch 20, where neither logged a value: 2 runs, not '0-2'. One run:
    its line alone, without a band."""
    df = plots.load_runs(results, ["gmvae"])
    theirs = original_logs(epochs=20).assign(nan_epoch=20.0)
    theirs.loc[theirs["epoch"] == 20, ["test_entropy", "test_loss", "test_accuracy"]] = np.nan
    texts = [t.get_text() for t in plots.plot_curves(df, original=theirs).legends[0].get_texts()]
    assert texts == ["GMVAE (ours): 2 runs, mean and 68 % CI", "GMVAE (original): 2 runs, mean and min-max"]
    one = plots.plot_curves(df, original=theirs[theirs["seed"] == 0])
    assert [t.get_text() for t in one.legends[0].get_texts()][1] == "GMVAE (original): 1 run"
    assert not [band for ax in one.axes for band in ax.collections if band.get_gid() == "original_band"]
    assert drawn_keys(one.legends[0])[1][0][0] == "line"


def test_final_values_passes_over_runs_without_a_finite_value_and_keeps_its_columns_when_none_has_one(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    df.loc[df["run_name"] == "gmvae", "test_accuracy"] = np.nan  # the first run name in order
    final = plots.final_values(df, "test_accuracy")
    assert list(final.columns) == ["run_name", "seed", "epoch", "test_accuracy"]
    assert list(final.itertuples(index=False, name=None)) == [
        ("m2", 0, 20, pytest.approx(0.113 + 0.2 * np.exp(-20 / 3), abs=1e-5)),
        ("modified_m2", 0, 11, pytest.approx(0.6 - 0.3 * np.exp(-11 / 5), abs=1e-5))]  # NaN at 12
    none = plots.final_values(df.assign(test_accuracy=np.nan), "test_accuracy")
    assert none.empty and list(none.columns) == ["run_name", "seed", "epoch", "test_accuracy"]


def test_the_sample_grid_shows_each_image_in_its_row_and_column_on_a_0_to_1_grey_scale(tmp_path):
    """3 clusters of 2 images of 4 x 5 pixels, each a constant (cluster + sample / 10 + 0.1) / 3.5: the canvas holds
    them at rows 0, 6, 12 and columns 0, 7, 2-pixel gutters between them in GUTTER_GREY, on a grey scale from 0 (black)
    to 1 (white) whatever the values drawn."""
    samples = np.array([[np.full((4, 5), (i + j / 10 + 0.1) / 3.5) for j in range(2)] for i in range(3)])
    fig = plots.plot_sample_grid(samples)
    ax, = fig.axes
    image = ax.images[0]
    assert not np.ma.is_masked(image.get_array())  # no pixel left out (imshow masks NaN)
    canvas = np.ma.getdata(image.get_array())
    assert canvas.shape == (3 * 4 + 2 * 2, 2 * 5 + 2)
    for i in range(3):
        for j in range(2):
            np.testing.assert_array_equal(canvas[6 * i:6 * i + 4, 7 * j:7 * j + 5], samples[i, j])
    assert (canvas[4:6] == plots.GUTTER_GREY).all() and (canvas[:, 5:7] == plots.GUTTER_GREY).all()
    assert (image.get_cmap().name, image.get_clim(), image.get_interpolation()) == ("gray", (0.0, 1.0), "nearest")
    assert list(ax.get_yticks()) == [2, 8, 14]  # the middle of each row
    assert [t.get_text() for t in ax.get_yticklabels()] == ["y = 0", "y = 1", "y = 2"]
    assert list(ax.get_xticks()) == [] and not any(spine.get_visible() for spine in ax.spines.values())
    assert ax.get_title() == "Digits generated from each value of the discrete latent y"
    assert ax.title.get_fontsize() == plots._STYLE["axes.titlesize"]
    assert ax.get_xlabel() == ("2 samples per row: mean of p(x|z) for z ~ p(z|y) (pixel probability, white = 1)")
    assert fig.get_layout_engine() is not None  # constrained: the labels stay inside the figure
    width, height = fig.get_size_inches()
    assert height >= 3 * plots.IMAGE_INCHES and width >= 2 * plots.IMAGE_INCHES
    wider = plots.plot_sample_grid(np.zeros((3, 4, 4, 5))).get_size_inches()
    assert wider[0] > width and wider[1] == height
    assert plots.plot_sample_grid(np.zeros((3, 100, 4, 5))).get_size_inches()[0] == plots.GRID_MAX_WIDTH
    taller = plots.plot_sample_grid(np.zeros((6, 2, 4, 5))).get_size_inches()
    assert taller[0] == width and taller[1] - height == pytest.approx(3 * plots.IMAGE_INCHES)
    labelled = plots.plot_sample_grid(samples.tolist(), row_labels=["a", "b", "c"], title="T", xlabel="X").axes[0]
    assert [t.get_text() for t in labelled.get_yticklabels()] == ["a", "b", "c"]
    assert (labelled.get_title(), labelled.get_xlabel()) == ("T", "X")
    plots.save_figure(fig, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"plot_sample_grid expects \[K, n, height, width\], got shape \(10, 28, 28\)"):
        plots.plot_sample_grid(np.zeros((10, 28, 28)))


def test_show_displays_a_figure_once_in_a_notebook_and_closes_it_everywhere(monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure()
    plots.show(fig)  # no IPython shell: nothing to display on
    assert shown == [] and not plt.fignum_exists(fig.number)
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # inside a notebook's kernel
    fig = plt.figure()
    current = plt.figure()
    plots.show(fig)
    assert shown == [fig] and not plt.fignum_exists(fig.number) and plt.fignum_exists(current.number)


def test_majority_rate():
    assert plots.majority_rate([1, 1, 2, 3]) == 0.5
    assert plots.majority_rate([7]) == 1.0
    with pytest.raises(ValueError, match="^majority_rate needs at least one label$"):
        plots.majority_rate([])


@pytest.mark.needs_mnist
def test_the_mnist_test_majority_rate_is_that_of_the_real_test_labels():
    from gmvae.data import resolve_mnist_path

    with np.load(resolve_mnist_path(download=False)) as mnist:
        assert plots.majority_rate(mnist["y_test"]) == plots.MNIST_TEST_MAJORITY_RATE


# ------------------------------------------------------------------------------------- claims


def verdicts(table):
    return dict(zip(table["claim"], table["verdict"]))


def test_claims_table_post_like_logs(results):
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    table = claims.claims_table(df)
    assert list(table.columns) == claims.CLAIM_COLUMNS
    v = verdicts(table)
    assert v["M2's q(y|x) becomes uniform"] == "supported"
    assert v["M2's cluster accuracy falls to the majority-class rate"] == "supported"
    assert v["Modified M2 clusters far better than M2"] == "supported"
    assert v["GMVAE clusters best"] == "supported"
    assert v["M2 reaches the lowest variational loss"] == "supported"
    assert v["Modified M2 has the highest variational loss"] == "supported"
    # NaN at epoch 12: earlier than "a few hundred epochs"
    assert v["Modified M2 turns NaN after a few hundred epochs"] == "not supported"


def test_claims_table_contrary_logs(tmp_path):
    # M2 that clusters well and has the highest loss; GMVAE worse than modified M2
    write_run(tmp_path, "m2", 0, fake_log(20, lambda e: 0.5 + 0 * e, lambda e: 130 + 0 * e, lambda e: 0.7 + 0 * e))
    write_run(tmp_path, "modified_m2", 0, fake_log(20, lambda e: 0.5 + 0 * e, lambda e: 110 + 0 * e, lambda e: 0.8 + 0 * e))
    write_run(tmp_path, "gmvae", 0, fake_log(20, lambda e: 0.5 + 0 * e, lambda e: 100 + 0 * e, lambda e: 0.6 + 0 * e))
    v = verdicts(claims.claims_table(plots.load_runs(tmp_path, ["m2", "modified_m2", "gmvae"])))
    assert set(v.values()) <= {"not supported", "not reached"}
    assert v["Modified M2 turns NaN after a few hundred epochs"] == "not reached"  # 20 epochs, no NaN
    assert v["GMVAE clusters best"] == "not supported"


def test_claims_table_nan_after_few_hundred_and_long_runs(tmp_path):
    write_run(tmp_path, "modified_m2", 0, modified_log(350, nan_at=350), nan_epoch=350, epochs=1000)
    write_run(tmp_path, "modified_m2", 1, modified_log(400))
    v = verdicts(claims.claims_table(plots.load_runs(tmp_path, ["modified_m2"])))
    assert v["Modified M2 turns NaN after a few hundred epochs"] == "supported"
    assert v["GMVAE clusters best"] == "not reached"  # no GMVAE logs
    other = tmp_path / "other"
    write_run(other, "modified_m2", 0, modified_log(300))
    v = verdicts(claims.claims_table(plots.load_runs(other, ["modified_m2"])))
    assert v["Modified M2 turns NaN after a few hundred epochs"] == "not supported"


def test_claims_table_empty_and_markdown(tmp_path):
    table = claims.claims_table(plots.load_runs(tmp_path, ["m2"]))
    assert set(table["verdict"]) == {"not reached"} and len(table) == 9
    md = tables.markdown_table(table)
    assert md.count("\n") == len(table) + 2
    paths = tables.write_tables(plots.load_runs(tmp_path, ["m2"]), tmp_path)
    assert [p.name for p in paths] == ["claims.csv", "claims.md", "run_table.csv", "run_table.md",
                                       "training_time.csv", "training_time.md"]
    assert pd.read_csv(paths[0]).shape == table.shape and paths[1].read_text().startswith("#")
    assert pd.read_csv(paths[2]).empty


def test_run_table_rows_at_the_milestones_and_the_last_finite_epoch(results):
    table = tables.run_table(plots.load_runs(results, ["gmvae", "modified_m2", "m2"]), epochs=(10, 20, 50))
    assert list(zip(table["model"], table["seed"], table["epoch"])) == [
        ("M2", 0, "10"), ("M2", 0, "20 (last)"),                          # 50 not reached
        ("modified M2", 0, "10"), ("modified M2", 0, "11 (last; NaN at 12)"),
        ("GMVAE", 0, "10"), ("GMVAE", 0, "20 (last)"), ("GMVAE", 1, "10"), ("GMVAE", 1, "20 (last)"),
    ]
    m2_at_10 = table.iloc[0]
    assert m2_at_10["accuracy"] == f"{0.113 + 0.2 * np.exp(-10 / 3):.3f}"
    assert m2_at_10["H(y|x) [nats]"] == f"{LN10 - 0.5 * np.exp(-10 / 3):.3f}"
    assert m2_at_10["loss [nats]"] == f"{95 + 20 * np.exp(-2):.2f}"
    assert table.iloc[7]["accuracy"] == f"{0.76 - 0.3 * np.exp(-4):.3f}"  # GMVAE seed 1, epoch 20


def test_training_time_sums_each_run_and_the_profile(tmp_path):
    paused = m2_log(epochs=4).assign(seconds=[10.0, 20.0, 30.0, 1000.0])  # a pause in epoch 4
    write_run(tmp_path, "m2", 0, paused)
    write_run(tmp_path, "gmvae", 3, gmvae_log(epochs=3).assign(seconds=[6.0, 9.0, 7.5]))
    table = tables.training_time_table(plots.load_runs(tmp_path, ["gmvae", "m2"])).set_index(["model", "seed"])
    assert list(table.index) == [("M2", 0), ("GMVAE", 3), ("all", "")]
    assert list(table["epochs"]) == [4, 3, 7]
    assert list(table["median epoch [s]"][:2]) == [25.0, 7.5]
    assert list(table["logged [min]"]) == pytest.approx([1060 / 60, 22.5 / 60, 1082.5 / 60])
    assert list(table["at the median pace [min]"]) == pytest.approx([100 / 60, 22.5 / 60, 122.5 / 60])
    assert set(table["precision"][:2]) == {"float32"}
    md = tables.training_time_markdown(table.reset_index())
    assert "In all: 7 epochs, 0.3 hours logged, 0.0 hours at each run's median pace." in md
    assert "| M2 | 0 | 4 |  | float32 | 25.0 | 18 | 2 |" in md  # no processor in these made-up records


# ------------------------------------------------------------------------------------- pipeline


def test_redraw_figures(results, capsys, monkeypatch):
    drawn = {}
    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, **kw: drawn.setdefault(Path(path).name, fig) and
                        save(fig, path, **kw))
    save_figure_data(results, plots.load_runs(results, ["gmvae"]))  # of the best replicate's last epoch
    shutil.copytree(runs.run_dir(results, "gmvae", 0), runs.run_dir(results, "mine", 0))  # a model of your own
    write_run(results / "earlier" / "shuffled_first_pass", "m2", 0, m2_log())  # runs kept from an earlier protocol
    report = figures.redraw_figures(results)
    assert plt.get_fignums() == []  # each figure closed once saved: a redraw of many figures holds none
    names = sorted(p.name for p in report["written"])
    curves = ["gmvae_curves", "m2_curves", "modified_m2_curves", "overlay"]
    assert names == sorted([f"{c}.png" for c in curves] + [f"{c}_post_horizon.png" for c in curves]
                           + ["gmvae_accuracy_per_replicate.png", "graphical_models.png", "gmvae_samples.png",
                              "gmvae_confusion.png", figures.OTHER_RUNS_FIGURE])
    assert {path.parent for path in report["written"]} == {results / "figures"}
    assert [t.get_text().split(" (ours)")[0] for t in drawn[figures.OTHER_RUNS_FIGURE].legends[0].get_texts()] == [
        "M2", "modified M2", "GMVAE", "mine"]  # the post's models first, in its order
    assert {"modified_m2_variants.png", "modified_m2_clipping.png"} <= set(report["skipped"])
    assert sorted(p.name for p in report["tables"]) == ["claims.csv", "claims.md", "fidelity.csv", "fidelity.md",
                                                        "fidelity_distributions.csv", "fidelity_distributions.md",
                                                        "findings.md", "run_table.csv", "run_table.md",
                                                        "training_time.csv", "training_time.md"]
    md = (results / "run_table.md").read_text()
    assert "| GMVAE | 1 | 20 (last) |" in md and "H(y\\|x)" in md  # "|" escaped in the header too
    assert "## ours, shuffled first pass\n" in (results / "fidelity.md").read_text()
    out = capsys.readouterr().out
    for path in report["written"] + report["tables"]:
        assert path.stat().st_size > 0
        assert f"wrote   {parameters.display_path(path)}\n" in out
    assert "GMVAE seed 1, epoch 20" in drawn["gmvae_confusion.png"].axes[0].get_title()
    # every curves and overlay figure of the post's models over the original's logs shipped with the package (its
    # means dashed), to our last epoch (20; modified M2's NaN at 12) and to the post's (200): what `make figures` commits
    for file in [name for name in names if name.startswith(("m2_", "modified_m2_", "gmvae_curves", "overlay"))]:
        assert any(l.get_gid() == "original_mean" and l.get_linestyle() == "--" for l in drawn[file].axes[1].lines), file
        horizon = 200 if "post_horizon" in file else 12 if file == "modified_m2_curves.png" else 20
        assert drawn[file].axes[1].get_xlim()[1] == pytest.approx(horizon * plots.X_MARGIN), file
    assert out.count("skipped modified_m2_variants.png: no logs of modified_m2_identity or modified_m2_relu_layer\n") == 1
    assert "skipped modified_m2_clipping_post_horizon.png: no logs of modified_m2_clip\n" in out
    with pytest.raises(FileNotFoundError, match=r"no run logs under .*nowhere.runs: a results folder holds them as "
                                                r"runs/<run>/seed<k>/log.csv \(with run.json\), as the notebooks and "
                                                r"`python -m gmvae reproduce` write them$"):
        figures.redraw_figures(results / "nowhere")
    assert figures.figure_file("overlay.png") == "overlay.png"
    assert figures.figure_file("overlay.png", post_horizon=True) == "overlay_post_horizon.png"


def test_redraw_rewrites_the_readme_claims_table_between_its_markers_and_nothing_else(tmp_path):
    results = tmp_path / "repo" / "results"
    write_run(results, "m2", 0, m2_log())
    readme = results.parent / "README.md"
    before, after = "# Title\n\ntext before\n\n", "\n\ntext after\n"
    readme.write_text(f"{before}{tables.README_CLAIMS_START}\n| stale |\n{tables.README_CLAIMS_END}{after}")
    report = figures.redraw_figures(results, verbose=False)
    claims = pd.read_csv(results / "claims.csv")
    table = tables.markdown_table(claims[["section", "claim", "measured", "verdict"]])
    assert readme.read_text() == f"{before}{tables.README_CLAIMS_START}\n{table}{tables.README_CLAIMS_END}{after}"
    assert "| 1 M2 | M2's q(y\\|x) becomes uniform | M2 H(y\\|x) " in table and readme in report["tables"]
    for text in ("no markers here\n", f"{tables.README_CLAIMS_END}\n{tables.README_CLAIMS_START}\n"):
        readme.write_text(text)  # a README without the table's markers, or with them swapped, is left as it is
        assert not tables.update_readme_claims(readme, claims)
        assert readme.read_text() == text


def test_the_fidelity_of_kept_runs_is_written_in_their_own_section(results):
    write_run(results / "earlier" / "shuffled_first_pass", "m2", 0, m2_log())
    df, theirs, kept = figures.load_logs(results)
    tables.write_tables(df, results, theirs, kept)
    text = (results / "fidelity.md").read_text()
    assert text.index("## ours\n") < text.index("## ours, shuffled first pass\n")
    fidelity = pd.read_csv(results / "fidelity.csv")
    assert set(fidelity["source"]) == {"ours", "ours, shuffled first pass"}
    assert set(fidelity.loc[fidelity["source"] != "ours", "run_name"]) == {"m2"}


def test_make_figures_finds_the_model_figure_data_here_or_in_a_profiles_folder_and_only_of_its_run(results):
    """Notebook 03 saves it in results/<profile>/; data of another run of the same seed and length (its last test loss
    differs: retrained, another protocol) is not this run's."""
    df = plots.load_runs(results, ["gmvae"])
    assert figures.load_model_figure_data(results) is None and figures.saved_model_figure_data(results, df) is None
    save_figure_data(results / "post", df, marker=7)
    assert figures.saved_model_figure_data(results, df)["confusion"][0, 0] == 7
    save_figure_data(results, df, marker=8)
    assert figures.saved_model_figure_data(results, df)["confusion"][0, 0] == 8  # results/ first
    other = df.copy()
    other.loc[(other["seed"] == 1) & (other["epoch"] == 20), "test_loss"] += 0.01
    assert figures.saved_model_figure_data(results, other) is None
    assert figures.saved_model_figure_data(results, df[df["epoch"] <= 10]) is None


def test_model_figure_data_is_computed_only_from_a_checkpoint_of_the_epoch_drawn(results, tmp_path, monkeypatch):
    """A profile cut shorter than the run (cpu's 50 epochs of a 200-epoch run) must not save the checkpoint's later
    epoch as its figure data; at the run's last epoch the data is computed and kept in out_dir."""
    checkpoint = runs.run_dir(results, "gmvae", 1) / "checkpoints" / "ckpt-20.index"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    computed = []
    monkeypatch.setattr(figures, "save_model_figure_data",
                        lambda run_dir, out_dir, data_path=None: computed.append((run_dir.name, out_dir)))
    df = plots.load_runs(results, ["gmvae"])
    out = tmp_path / "cpu"
    assert figures.model_figure_data(results, df[df["epoch"] <= 10], out_dir=out) is None
    assert computed == []
    figures.model_figure_data(results, df, out_dir=out)
    assert computed == [("seed1", out)]


def test_model_figure_data_is_read_from_where_make_figures_keeps_it(results, tmp_path):
    """A profile's notebook 03 (out_dir results/<profile>) draws from the data `make figures` keeps in results/ when
    no checkpoint of the epoch is at hand, as for the committed post profile."""
    df = plots.load_runs(results, ["gmvae"])
    best = figures.best_replicate(df, "gmvae")
    last = df[(df["run_name"] == "gmvae") & (df["seed"] == best)].iloc[-1]
    path = results / figures.MODEL_FIGURE_DATA
    path.parent.mkdir(parents=True)
    np.savez_compressed(path, samples=np.zeros((10, 3, 28, 28), np.float16), confusion=np.eye(10, dtype=int),
                        seed=best, epoch=int(last["epoch"]), test_loss=float(last["test_loss"]))
    out = tmp_path / "post"
    assert figures.model_figure_data(results, df, out_dir=out)["seed"] == best
    assert figures.model_figure_data(results, df[df["epoch"] < last["epoch"]], out_dir=out) is None


def save_figure_data(folder, df, *, epoch=None, marker=0):
    """Model figure data of the fixture's best GMVAE replicate (seed 1) at ``epoch`` (default its last, 20), as
    save_model_figure_data writes it, in ``folder``; ``marker`` fills its confusion matrix to tell copies apart."""
    rows = df[(df["run_name"] == "gmvae") & (df["seed"] == 1)]
    row = rows.iloc[-1] if epoch is None else rows[rows["epoch"] == epoch].iloc[0]
    path = Path(folder) / figures.MODEL_FIGURE_DATA
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, samples=np.zeros((10, 1, 28, 28), np.float16), confusion=np.full((10, 10), marker),
                        seed=1, epoch=int(row["epoch"]), test_loss=float(row["test_loss"]))
    return path


def test_model_figure_data_prefers_its_own_folder_and_never_returns_another_epochs(results, tmp_path, monkeypatch):
    """The data in out_dir (the notebook's own) over the copy `make figures` keeps; data of another epoch is not
    this run's, whichever folder holds it; a checkpoint of the epoch is not read again while its data is at hand."""
    computed = []
    monkeypatch.setattr(figures, "save_model_figure_data", lambda *args: computed.append(args))
    df = plots.load_runs(results, ["gmvae"])
    out = tmp_path / "post"
    save_figure_data(results, df, marker=1)
    save_figure_data(out, df, marker=2)
    assert figures.model_figure_data(results, df, out_dir=out)["confusion"][0, 0] == 2
    assert figures.model_figure_data(results, df)["confusion"][0, 0] == 1  # out_dir defaults to results_dir
    checkpoint = runs.run_dir(results, "gmvae", 1) / "checkpoints" / "ckpt-20.index"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    figures.model_figure_data(results, df, out_dir=out)
    assert computed == []
    for folder in (results, out):
        save_figure_data(folder, df, epoch=19)
    checkpoint.unlink()
    assert figures.model_figure_data(results, df, out_dir=out) is None


def test_model_figure_data_is_of_the_best_replicates_own_last_epoch_when_another_ran_longer(results):
    """Seed 0 runs to 25 epochs, seed 1 (the best, its accuracy 0.01 higher) stops at 20, and M2's seed 1 runs to 25:
    the data is GMVAE seed 1's at 20."""
    write_run(results, "gmvae", 0, gmvae_log(25, seed=0))
    write_run(results, "m2", 1, m2_log(25))
    df = plots.load_runs(results, ["m2", "gmvae"])
    save_figure_data(results, df)
    data = figures.model_figure_data(results, df)
    assert (data["seed"], data["epoch"]) == (1, 20)

def test_model_figure_data_computed_from_the_checkpoint_is_returned_and_saved_where_asked(results, monkeypatch):
    """Without saved data of the epoch, the checkpoint's data is computed (from the MNIST file asked for), saved in
    out_dir (default results_dir) and returned."""
    df = plots.load_runs(results, ["gmvae"])
    checkpoint = runs.run_dir(results, "gmvae", 1) / "checkpoints" / "ckpt-20.index"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"x")
    computed = []

    def compute(run_dir, out_dir, data_path=None):
        computed.append((run_dir.name, Path(out_dir), data_path))
        save_figure_data(out_dir, df, marker=3)

    monkeypatch.setattr(figures, "save_model_figure_data", compute)
    out = results / "elsewhere"  # no profile's folder: `make figures` does not look there
    assert figures.model_figure_data(results, df, "mnist.npz", out_dir=out)["confusion"][0, 0] == 3
    assert computed == [("seed1", out, "mnist.npz")] and (out / figures.MODEL_FIGURE_DATA).is_file()
    assert figures.model_figure_data(results, df, "mnist.npz")["confusion"][0, 0] == 3
    assert computed[1:] == [("seed1", results, "mnist.npz")] and (results / figures.MODEL_FIGURE_DATA).is_file()


def test_model_figures_name_the_run_its_clusters_digits_and_accuracy():
    """Clusters 0-8 hold 50 images of digit c + 3 (mod 10) each, cluster 4 also 5 twos (a digit no cluster is
    labelled), cluster 9 none: accuracy 450 / 455 = 0.989."""
    confusion = np.zeros((10, 10), dtype=int)
    confusion[np.arange(9), (np.arange(9) + 3) % 10] = 50
    confusion[4, 2] = 5
    samples = np.random.default_rng(0).random((10, 2, 28, 28)).astype(np.float32)
    drawn = figures.draw_model_figures({"confusion": confusion, "samples": samples, "seed": 1, "epoch": 20})
    grid = drawn["gmvae_samples.png"].axes[0]
    assert grid.get_title() == "GMVAE seed 1, epoch 20: digits generated from each cluster (majority digit)"
    assert [t.get_text() for t in grid.get_yticklabels()] == [f"y={c} ({(c + 3) % 10})" for c in range(9)] + [
        "y=9 (empty)"]
    image = grid.images[0].get_array()
    np.testing.assert_array_equal(image[:28, :28], samples[0, 0])
    np.testing.assert_array_equal(image[-28:, -28:], samples[9, 1])
    heatmap = drawn["gmvae_confusion.png"].axes[0]
    assert heatmap.get_title() == "GMVAE seed 1, epoch 20: test images by cluster and true digit (accuracy 0.989)"
    assert heatmap.collections[0].get_array().sum() == 455

def test_save_log_figures_saves_each_horizon_a_figure_is_drawn_at(results, tmp_path):
    """As the notebooks call it: a curves figure at our horizon and the post's, the per-replicate figure at ours
    only, a figure of runs not in the logs not at all."""
    df = plots.load_runs(results, ["m2", "modified_m2", "gmvae"])
    saved = figures.save_log_figures("gmvae_curves.png", df, None, tmp_path / "figures")
    assert [(path.name, fig.axes[1].get_xlim()[1]) for path, fig in saved] == [
        ("gmvae_curves.png", pytest.approx(20 * plots.X_MARGIN)),
        ("gmvae_curves_post_horizon.png", pytest.approx(200 * plots.X_MARGIN))]
    assert all(path.stat().st_size > 0 and path.parent == tmp_path / "figures" for path, _ in saved)
    saved = figures.save_log_figures("gmvae_accuracy_per_replicate.png", df, original_logs(), tmp_path / "figures")
    assert [path.name for path, _ in saved] == ["gmvae_accuracy_per_replicate.png"]
    assert "original\nepoch 200" in [t.get_text() for t in saved[0][1].axes[0].get_xticklabels()]
    assert figures.save_log_figures("modified_m2_clipping.png", df, None, tmp_path / "figures") == []


def test_show_post_figure_displays_the_posts_own_figure_or_says_it_is_missing(monkeypatch):
    import IPython.display

    from gmvae.reporting import original

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    figures.show_post_figure("overlay")
    assert shown[0].filename == str(original.MATERIAL_DIR / original.POST_FIGURES["overlay"])
    monkeypatch.setattr(figures, "post_figure", lambda name: None)
    figures.show_post_figure("gmvae")
    assert shown[1] == "the post's figure 'gmvae' is missing or altered (see above)"


def test_save_model_figure_data_from_a_trained_run(tmp_path, monkeypatch):
    """A 2-epoch GMVAE (K = 3) on made-up images: samples of each cluster and the test set's confusion matrix of
    that checkpoint, with the run's seed, epoch and last logged test loss, from the MNIST file asked for."""
    from test_train import TINY, synthetic_mnist

    from gmvae import evaluate, metrics
    from gmvae.train import train

    run_dir = runs.run_dir(tmp_path, "gmvae", 4)
    train(TINY.replace(epochs=2, seed=4), run_dir, data=synthetic_mnist(), progress=False)
    logged = runs.read_log(run_dir)  # the CSV, its values rounded as logged
    asked = []
    monkeypatch.setattr(figures, "load_data", lambda data_path: asked.append(data_path) or synthetic_mnist())
    path = figures.save_model_figure_data(run_dir, tmp_path / "out", "mnist.npz", n_per_cluster=2)
    assert figures.save_model_figure_data(run_dir, tmp_path / "out", "mnist.npz", n_per_cluster=2) == path  # again
    assert path == tmp_path / "out" / figures.MODEL_FIGURE_DATA and asked == ["mnist.npz"] * 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left beside it
    with np.load(path) as saved:
        assert saved["samples"].dtype == np.float16  # a quarter of float64's bytes: the file is committed
    data = figures.load_model_figure_data(tmp_path / "out")
    assert (data["seed"], data["epoch"], data["test_loss"]) == (4, 2, float(logged["test_loss"].iloc[-1]))
    np.savez_compressed(path, **{k: v for k, v in np.load(path).items() if k != "test_loss"})
    assert figures.load_model_figure_data(tmp_path / "out")["test_loss"] is None  # saved before it was recorded
    model, _ = evaluate.load_trained(run_dir)
    test = synthetic_mnist()
    np.testing.assert_array_equal(data["confusion"], metrics.confusion(
        test.test_y, evaluate.cluster_assignments(model, test.test_x), k=3))
    assert data["confusion"].sum() == 30
    np.testing.assert_allclose(data["samples"], evaluate.cluster_samples(model, n_per_cluster=2, seed=0), atol=1e-3)
    assert data["samples"].shape == (3, 2, 28, 28)
    figures.save_model_figure_data(run_dir, tmp_path / "out", "mnist.npz")
    assert figures.load_model_figure_data(tmp_path / "out")["samples"].shape == (3, 10, 28, 28)  # 10 per cluster

def test_validate_parameters(tmp_path):
    out = parameters.validate_parameters("smoke", None, None, tmp_path / "new", run_names=["m2"])
    assert out == tmp_path / "new" and out.is_dir()
    bad = [
        (dict(profile="fast"), "allowed profiles"),
        (dict(run_names=["m3"]), "allowed models"),
        (dict(epochs=-1), "integer >= 0"),
        (dict(epochs=2.5), "integer >= 0"),
        (dict(seeds=[-1]), "integers >= 0"),
        (dict(seeds="0"), "integers >= 0"),
        (dict(retrain="yes"), "True or False"),
        (dict(data_path=tmp_path / "missing.npz"), "not a file"),
    ]
    for kwargs, message in bad:
        args = dict(profile="smoke", seeds=None, epochs=None, results_dir=tmp_path)
        args.update(kwargs)
        with pytest.raises(ValueError, match=message):
            parameters.validate_parameters(args.pop("profile"), args.pop("seeds"), args.pop("epochs"),
                                         args.pop("results_dir"), **args)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot be written"):
        parameters.validate_parameters("smoke", None, None, blocker / "sub")


def test_relative_results_dir_is_relative_to_notebooks():
    assert parameters.resolve_path("../results") == (parameters.NOTEBOOK_DIR / ".." / "results").resolve()


def test_ensure_runs_skips_complete_logs_and_rejects_other_configs(tmp_path, monkeypatch):
    smoke = get_profile("smoke").configs("m2")[0]
    d = runs.run_dir(tmp_path, "m2", 0)
    runs.write_log(d, m2_log(smoke.epochs))
    runs.write_record(d, {"config": dataclasses.asdict(smoke),
                          "status": {"completed_epochs": smoke.epochs, "nan_epoch": None, "finished": True}})
    import builtins

    real_import = builtins.__import__

    def no_train(name, *args, **kwargs):  # a complete log must not even import the training code
        if name in ("gmvae.train", "gmvae.data") or (name == "gmvae" and args and args[2] and "train" in args[2]):
            raise AssertionError("ensure_runs tried to train a complete run")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_train)
    assert pipeline.ensure_runs("smoke", "m2", results_dir=tmp_path, progress=False) == [d]
    monkeypatch.setattr(builtins, "__import__", real_import)
    # the cpu profile's m2 differs from smoke's in more than epochs: refuse, and say how to proceed
    with pytest.raises(ValueError, match="retrain=True"):
        pipeline.ensure_runs("cpu", "m2", results_dir=tmp_path, progress=False)
    assert pipeline.run_state(d, smoke.replace(epochs=smoke.epochs + 1)) == "partial"


# ------------------------------------------------------------------------------- the original's band


def original_logs(run_name="gmvae", epochs=200):
    """Two made-up 'original' replicates in the long form of gmvae.reporting.original.load_original_logs."""
    frames = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        log = gmvae_log(epochs)
        log["test_accuracy"] = 0.4 + shift + 0 * log["epoch"]
        frames.append(log.assign(run_name=run_name, seed=seed, source="original", nan_epoch=np.nan, k=10))
    return pd.concat(frames, ignore_index=True)


def band_edges(ax):
    """(x, lower, upper) of the original's min-max band on an axis."""
    band = next(c for c in ax.collections if c.get_gid() == "original_band")
    path = band.get_paths()[0].vertices
    n = (len(path) - 3) // 2  # fill_between: start, lower edge forward, end of the upper, upper edge back, close
    lower, upper = path[1:n + 1], path[n + 2:2 * n + 2][::-1]
    assert np.array_equal(lower[:, 0], upper[:, 0])
    return lower[:, 0], lower[:, 1], upper[:, 1]


def test_the_original_band_is_its_min_max_under_ours_to_our_horizon(results):
    df = plots.load_runs(results, ["gmvae"])
    fig = plots.plot_curves(df, original=original_logs())
    acc = fig.axes[2]
    x, lower, upper = band_edges(acc)
    assert x.max() == 20  # cut at our last epoch
    assert np.allclose(lower, 0.4) and np.allclose(upper, 0.5)
    mean = next(l for l in acc.lines if l.get_gid() == "original_mean")
    assert np.allclose(mean.get_ydata(), 0.45)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "GMVAE (original): 2 runs, mean and min-max" in texts
    assert "the original's, the min-max of its runs" in fig.legends[0].get_title().get_text()
    ours = [l for l in acc.lines if l.get_gid() == "mean"][0]
    assert ours.get_zorder() > mean.get_zorder()


def test_the_post_horizon_version_draws_the_original_to_epoch_200(results):
    df = plots.load_runs(results, ["gmvae", "m2"])
    fig = figures.draw_log_figure("gmvae_curves.png", df, original_logs(), post_horizon=True)
    x, _, _ = band_edges(fig.axes[0])
    assert x.max() == 200 and fig.axes[0].get_xlim()[1] >= 200
    assert "to epoch 200" in fig._suptitle.get_text()
    overlay = figures.draw_log_figure("overlay.png", df, pd.concat([original_logs(), original_logs("m2")]))
    assert sum(c.get_gid() == "original_band" for c in overlay.axes[1].collections) == 2


def test_no_original_counterpart_and_ragged_original_logs_still_draw(results):
    df = plots.load_runs(results, ["modified_m2"])
    fig = plots.plot_curves(df, original=original_logs("gmvae"))  # no original of modified M2
    assert not any(c.get_gid() == "original_band" for c in fig.axes[0].collections)
    ragged = original_logs("modified_m2")
    ragged = ragged[(ragged["seed"] == 0) | (ragged["epoch"] <= 5)]
    fig = plots.plot_curves(df, original=ragged, max_epoch=200)
    texts = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "modified M2 (original): 1-2 runs, mean and min-max" in texts


def test_the_originals_nan_epochs_are_marked_up_to_the_horizon(results):
    """Its seed 1 turns NaN at epoch 8 and seed 0 at 150: to our horizon (12) only the first is marked, to 200
    both, each once per panel and named once in the legend."""
    df = plots.load_runs(results, ["modified_m2"])
    theirs = original_logs("modified_m2")
    theirs["nan_epoch"] = theirs["seed"].map({0: 150.0, 1: 8.0})

    def marked(fig):
        return [[l.get_xdata()[0] for l in ax.lines if l.get_gid() == "original_nan_marker"] for ax in fig.axes]

    assert marked(plots.plot_curves(df, original=theirs)) == [[8.0]] * 3
    fig = plots.plot_curves(df, original=theirs, max_epoch=200)
    assert marked(fig) == [[8.0, 150.0]] * 3
    assert fig.legends[0].get_title().get_text().count("light grey x: a run of the original's turned NaN") == 1


def test_training_record_prints_the_log_as_training_does(results):
    text = pipeline.training_record([runs.run_dir(results, "modified_m2", 0), results / "runs" / "none" / "seed0"])
    lines = text.splitlines()
    assert lines[0].startswith("modified_m2 seed 0: ") and lines[0].endswith("12 epochs in float32")
    assert lines[1].startswith("modified_m2 seed 0 epoch 1/20: test loss ")
    assert lines[-2] == "modified_m2 seed 0: the loss became non-finite in epoch 12"
    assert lines[-1].endswith("no log")
    cut = pipeline.training_record([runs.run_dir(results, "modified_m2", 0)], "smoke", 10).splitlines()
    assert cut[0].endswith("10 epochs of its 12 in float32") and cut[-1].startswith("modified_m2 seed 0 epoch 10/20: ")
    headers = pipeline.training_record([runs.run_dir(results, "modified_m2", 0)], epoch_lines=False).splitlines()
    assert headers == [lines[0], lines[-2]], "without epoch lines: the run's log and its NaN only"


def test_notebook_paths_are_relative_inside_the_repository(tmp_path):
    repo = parameters.PROJECT_ROOT
    assert parameters.notebook_path(repo / "results") == "../results"
    assert parameters.resolve_path(parameters.notebook_path(repo / "results" / "x")) == (repo / "results" / "x").resolve()
    assert parameters.notebook_path(tmp_path) == str(tmp_path.resolve())
    assert parameters.display_path(repo / "results" / "figures" / "a.png") == "results/figures/a.png"


def test_ensure_runs_retrain_moves_the_old_run_aside_and_trains_again(tmp_path):
    from gmvae.data import MNIST

    smoke = get_profile("smoke").configs("m2")[0]
    d = runs.run_dir(tmp_path, "m2", 0)
    old = m2_log(smoke.epochs)
    runs.write_log(d, old)
    runs.write_record(d, {"config": dataclasses.asdict(smoke),
                          "status": {"completed_epochs": smoke.epochs, "nan_epoch": None, "finished": True}})
    rng = np.random.default_rng(0)
    data = MNIST(train_x=rng.random((600, 784), dtype=np.float32), train_y=rng.integers(0, 10, 600),
                 test_x=rng.random((600, 784), dtype=np.float32), test_y=rng.integers(0, 10, 600))
    assert pipeline.ensure_runs("smoke", "m2", results_dir=tmp_path, retrain=True, data=data, progress=False) == [d]
    aside = list(d.glob("previous-*"))
    assert len(aside) == 1 and runs.read_log(aside[0])["test_loss"].tolist() == pytest.approx(old["test_loss"].tolist(), rel=1e-5)
    new = runs.read_log(d)
    assert new["epoch"].tolist() == [1, 2] and not np.allclose(new["test_loss"], old["test_loss"])


# ---- figures at the post's horizon ----


@pytest.mark.parametrize("original", [None, pd.DataFrame()], ids=["none", "empty"])
def test_the_per_replicate_accuracy_figure_without_the_originals_logs_shows_ours_against_the_posts_statement(
        results, original):
    fig = figures.draw_log_figure("gmvae_accuracy_per_replicate.png", plots.load_runs(results, ["gmvae"]), original)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ours\nepoch 20"]
    assert ax.get_title() == ("GMVAE: each replicate's test accuracy (the post: five of six above 80 % by epoch "
                              f"{claims.STATEMENT_EPOCH})")


def test_a_log_figure_is_drawn_to_our_horizon_in_the_posts_order_whatever_the_logs_order(results):
    df = plots.load_runs(results, ["gmvae", "modified_m2", "m2"])  # the post's order reversed
    curves = figures.draw_log_figure("gmvae_curves.png", df)
    assert curves._suptitle.get_text() == "GMVAE (2 replicates): test-set curves to epoch 20"
    assert curves.axes[0].get_xlim()[1] == pytest.approx(20 * plots.X_MARGIN)
    overlay = figures.draw_log_figure("overlay.png", df)
    assert [t.get_text().split(" (ours)")[0] for t in overlay.legends[0].get_texts()] == ["M2", "modified M2", "GMVAE"]
    nothing = pd.DataFrame()  # no logs at all, not even their columns
    assert figures.draw_log_figure("overlay.png", nothing) is None and figures.other_run_names(nothing) == []


def test_load_logs_reads_every_run_folder_and_nothing_where_there_are_none(results, tmp_path):
    shutil.copytree(runs.run_dir(results, "gmvae", 0), runs.run_dir(results, "mine", 0))  # a model of your own
    df, theirs, kept = figures.load_logs(results)
    assert set(df["run_name"]) == {"m2", "modified_m2", "gmvae", "mine"}
    assert {"m2", "modified_m2", "gmvae"} <= set(theirs["run_name"]) and kept.empty
    df, _, _ = figures.load_logs(tmp_path / "nowhere")
    assert df.empty and "run_name" in df

def test_the_clipping_figure_draws_both_modified_m2_and_marks_the_threshold_and_the_nan(tmp_path):
    """Unclipped run: largest gradient norm 10 * epoch until it turns NaN at 12; clipped run: 3 * epoch to 20."""
    unclipped = modified_log(12, nan_at=12)
    unclipped["grad_norm_max"] = 10.0 * unclipped["epoch"]
    clipped = modified_log(20)
    clipped["grad_norm_max"] = 3.0 * clipped["epoch"]
    write_run(tmp_path, "modified_m2", 0, unclipped, nan_epoch=12, epochs=20)
    d = write_run(tmp_path, "modified_m2_clip", 0, clipped)
    record = runs.read_record(d)
    record["config"]["clip_norm"] = 50.0
    runs.write_record(d, record)
    df = plots.load_runs(tmp_path, ["modified_m2", "modified_m2_clip"])
    fig = figures.draw_log_figure("modified_m2_clipping.png", df)
    norms = fig.axes[2]
    assert norms.get_yscale() == "log" and "gradient norm" in norms.get_title()
    threshold = [l for l in norms.lines if l.get_gid() == "ref_clip_norm"]
    assert len(threshold) == 1 and threshold[0].get_ydata()[0] == 50.0 and is_reference_line(threshold[0])
    note, = norms.texts
    assert (note.get_text(), note_place(note)) == ("clipping threshold 50", ((0.02, 50.0), "above, left"))
    drawn = {l.get_label(): l for l in norms.lines}
    clipped, unclipped = drawn["modified M2, gradients clipped (ours): 1 run"], drawn["modified M2 (ours): 1 run"]
    np.testing.assert_array_equal(clipped.get_ydata(), 3.0 * np.arange(1, 21))
    # both solid (ours), the clipped run thinner and on top of the unclipped one: where they coincide, both show
    assert (clipped.get_linestyle(), unclipped.get_linestyle()) == ("-", "-")
    assert clipped.get_linewidth() < unclipped.get_linewidth() and clipped.get_zorder() > unclipped.get_zorder()
    assert (clipped.get_color(), unclipped.get_color()) == (plots.color("modified_m2_clip"), plots.color("modified_m2"))
    # the NaN epoch keeps its largest finite norm: the spike before the NaN shows
    np.testing.assert_array_equal(unclipped.get_ydata(), 10.0 * np.arange(1, 13))
    assert sum(l.get_gid() == "nan_epoch" for l in fig.axes[0].lines) == 1
    assert figures.draw_log_figure("modified_m2_clipping.png", df[df["run_name"] == "modified_m2"]) is None


def test_the_per_replicate_accuracy_figure_counts_each_column_against_80_percent(results):
    """Ours: the fixture's two GMVAE runs at their last epoch (20). The made-up original: 0.4 and 0.5 at every
    epoch, its logs ending at 200, so it has columns at 20 and 200 but none at 500 or a last epoch past 500."""
    df = plots.load_runs(results, ["gmvae"])
    fig = figures.draw_log_figure("gmvae_accuracy_per_replicate.png", df, original_logs())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ours\nepoch 20", "original\nepoch 20", "original\nepoch 200"]
    dots = [l for l in ax.lines if l.get_gid() == "replicate"]
    ours = np.sort(df.loc[df["epoch"] == 20, "test_accuracy"].to_numpy())
    np.testing.assert_array_equal(dots[0].get_ydata(), ours)
    np.testing.assert_array_equal(dots[2].get_ydata(), [0.4, 0.5])
    counts = [t.get_text() for t in ax.texts if t.get_text().endswith("above")]
    assert counts == [f"{int((ours > 0.8).sum())} of 2 above", "0 of 2 above", "0 of 2 above"]
    assert [l.get_ydata()[0] for l in ax.lines if l.get_gid() == "ref_high_accuracy"] == [0.8]
    assert figures.horizons("gmvae_accuracy_per_replicate.png") == (False,)


def test_the_per_replicate_accuracy_figure_draws_each_groups_values_sorted_and_counts_those_above():
    """Group a: 0.9, 0.7, 0.8 and 0.85, two above 80 % (0.8 itself is not); group b: 0.81 alone."""
    fig = plots.plot_accuracy_per_replicate({"a": ([0.9, 0.7, 0.8, 0.85], "#ff0000"), "b": ([0.81], "#0000ff")})
    ax = fig.axes[0]
    a, b = [l for l in ax.lines if l.get_gid() == "replicate"]
    np.testing.assert_allclose(a.get_xdata(), [-0.12, -0.04, 0.04, 0.12])  # spread sideways, centred on the column
    np.testing.assert_array_equal(a.get_ydata(), [0.7, 0.8, 0.85, 0.9])
    assert (list(b.get_xdata()), list(b.get_ydata())) == ([1.0], [0.81])
    assert (a.get_color(), b.get_color(), a.get_marker(), a.get_linestyle()) == ("#ff0000", "#0000ff", "o", "None")
    counts = [t for t in ax.texts if t.get_text().endswith("above")]
    assert [(t.get_text(), t.xy) for t in counts] == [("2 of 4 above", (0, 1.0)), ("1 of 1 above", (1, 1.0))]
    # just under the top of each column, centred on it
    assert {(t.xycoords, t.xyann, t.anncoords, t.get_ha()) for t in counts} == {
        (("data", "axes fraction"), (0, -16), "offset points", "center")}
    reference, = [l for l in ax.lines if l.get_gid() == "ref_high_accuracy"]
    assert reference.get_ydata()[0] == 0.8 and is_reference_line(reference)
    threshold, = [t for t in ax.texts if t.get_text() == "80%"]
    assert (threshold.xy, threshold.xycoords) == ((1.0, 0.8), ("axes fraction", "data"))  # right of the line's end
    assert (threshold.xyann, threshold.anncoords, threshold.get_va()) == ((4, 0), "offset points", "center")  # level
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"] and ax.get_xlim() == pytest.approx((-0.6, 1.6))
    assert ax.get_ylim() == pytest.approx((0.65, 1.0))  # below the lowest dot
    assert plots.plot_accuracy_per_replicate({"a": ([0.95], "k")}).axes[0].get_ylim() == pytest.approx((0.7, 1.0))
    assert ax.get_title() == "Accuracy of each replicate against 80%" and ax.get_ylabel() == "test cluster accuracy"
    assert ax.title.get_fontsize() == plots._STYLE["axes.titlesize"] and fig.get_layout_engine() is not None
    assert all(l.get_visible() for l in ax.get_ygridlines()) and not any(l.get_visible() for l in ax.get_xgridlines())
    assert {l.get_alpha() for l in ax.get_ygridlines()} == {plots.GRID_LOOK["alpha"]}
    three = plots.plot_accuracy_per_replicate({"a": ([0.5], "k"), "b": ([0.5, 0.7], "k"), "c": ([0.5], "k")},
                                              title="T", threshold=0.6)
    assert three.get_size_inches()[0] > fig.get_size_inches()[0] and three.axes[0].get_title() == "T"
    assert [t.get_text() for t in three.axes[0].texts if t.get_text().endswith("above")] == [
        "0 of 1 above", "1 of 2 above", "0 of 1 above"]
    np.testing.assert_allclose([l for l in three.axes[0].lines if l.get_gid() == "replicate"][1].get_xdata(),
                               [0.88, 1.12])
    with pytest.raises(ValueError, match="^plot_accuracy_per_replicate: nothing to draw$"):
        plots.plot_accuracy_per_replicate({})


def test_the_tables_hold_the_precision_study_of_the_earlier_float32_and_bfloat16_runs(results):
    """The earlier float32 runs lie 1 nat of loss above the current ones, and the bfloat16 GMVAE seed 0 0.3 nats
    above its float32 twin: the study compares the two earlier sets (0.3), not bfloat16 with the current runs."""
    for seed in (0, 1):
        earlier = gmvae_log(seed=seed)
        earlier["test_loss"] += 1.0
        write_run(results / "earlier" / "tfp_bernoulli_float32", "gmvae", seed, earlier)
    shifted = gmvae_log(seed=0)
    shifted["test_loss"] += 1.3
    write_run(results / "earlier" / "tfp_bernoulli_mixed_bfloat16", "gmvae", 0, shifted)
    df, theirs, kept = figures.load_logs(results)
    tables.write_tables(df, results, theirs, kept)
    table = pd.read_csv(results / "earlier" / "precision.csv")
    loss = table[(table["metric"] == "loss") & (table["epoch"].astype(str) == "10")]
    assert loss["difference"].to_numpy() == pytest.approx([0.3])
    assert not (results / "precision.csv").exists()
    # a profile's notebooks write their tables elsewhere (results/<profile>/): the study stays beside its runs
    tables.write_tables(df, results / "cpu", theirs, kept)
    assert (results / "cpu" / "fidelity.md").is_file() and not (results / "cpu" / "earlier").exists()
