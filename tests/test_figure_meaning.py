"""What the figures and the claims table say: every line and band edge drawn on a panel is that panel's log
column (our band the 68 % bootstrap interval of the mean, as the post drew it), the confusion matrix's rows are
sorted by their digit, a NaN epoch beyond the horizon is not drawn, and each claim's threshold decides at its very
edge, saying what it measured.

The logs are made up; they are never results.
"""

from __future__ import annotations

import colorsys
import itertools
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from gmvae import runs  # noqa: E402
from gmvae.reporting import claims, figures, plots  # noqa: E402
from made_up_logs import run_log  # noqa: E402
from test_plots import modified_log, write_run  # noqa: E402

EPOCHS = np.arange(1, 7)
PANELS = (*plots.PANELS, plots.MUTUAL_INFORMATION_PANEL)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def replicate(run_name, seed, level, slope) -> pd.DataFrame:
    """Every column a distinct straight line over EPOCHS, in load_runs' long form."""
    log = pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": EPOCHS, "nan_epoch": np.nan, "k": 10,
                        "iters_per_epoch": 500, "batch_size": 100})
    for i, (column, _, _) in enumerate(PANELS):
        log[column] = level + i + slope * EPOCHS
    return log


# Three GMVAE replicates, two of which cross between epochs 3 and 4, and a third far above them: at every epoch
# their mean, median, min and max differ, and so do the bootstrap interval of the mean and the min-max. One M2 run.
GMVAE_SEEDS = {3: replicate("gmvae", 3, level=0.2, slope=0.05), 8: replicate("gmvae", 8, level=0.5, slope=-0.03),
               9: replicate("gmvae", 9, level=1.4, slope=0.02)}
M2 = replicate("m2", 0, level=0.7, slope=0.01)


def our_curves(ax) -> list[tuple[np.ndarray, np.ndarray]]:
    """(epochs, values) of every line of ours on a panel (gid "mean" or "replicate"): reference lines, NaN marks and
    the original's have other gids."""
    return [(line.get_xdata(), line.get_ydata()) for line in ax.lines
            if line.get_gid() in ("mean", "replicate") and len(line.get_xdata())]


def our_band(ax) -> pd.DataFrame:
    """Lowest and highest edge of our one filled band at each epoch, from the polygon's vertices."""
    band, = [c for c in ax.collections if c.get_gid() == "band"]
    vertices = pd.DataFrame(np.concatenate([path.vertices for path in band.get_paths()]), columns=["epoch", "y"])
    return vertices.groupby("epoch")["y"].agg(["min", "max"])


def bootstrap_of_the_mean(columns: pd.DataFrame) -> pd.DataFrame:
    """The 68 % percentile bootstrap interval of the mean over the columns (replicates), by its definition: whole
    replicates drawn with replacement (plots.N_BOOT resamples from a generator seeded with plots.BOOT_SEED), the
    mean of each resample, the 16th and 84th percentiles of those means."""
    values = columns.to_numpy()
    draws = np.random.default_rng(plots.BOOT_SEED).integers(0, values.shape[1], size=(plots.N_BOOT, values.shape[1]))
    means = values[:, draws].mean(axis=2)  # [epochs, resamples]
    return pd.DataFrame({"min": np.percentile(means, 16, axis=1), "max": np.percentile(means, 84, axis=1)},
                        index=columns.index)


def assert_same_curves(drawn, expected):
    assert len(drawn) == len(expected)
    for epochs, values in expected:
        assert any(np.array_equal(x, epochs) and np.allclose(y, values, rtol=1e-12) for x, y in drawn), values


def assert_panels_draw_their_columns(axes, panels, *, single_runs=(M2,), replicates_drawn=True):
    """On each panel: GMVAE's mean and (if drawn) replicates, each single run's line, GMVAE's band: the 68 %
    bootstrap interval of the mean, inside the replicates' min-max and around their mean."""
    for ax, (column, _, _) in zip(axes, panels):
        columns = pd.DataFrame({seed: log[column].to_numpy() for seed, log in GMVAE_SEEDS.items()}, index=EPOCHS)
        expected = [(EPOCHS, columns.mean(axis=1).to_numpy()), *((EPOCHS, run[column].to_numpy()) for run in single_runs)]
        if replicates_drawn:
            expected += [(EPOCHS, columns[seed].to_numpy()) for seed in GMVAE_SEEDS]
        assert_same_curves(our_curves(ax), expected)
        band, reference = our_band(ax), bootstrap_of_the_mean(columns)
        assert list(band.index) == list(EPOCHS)
        np.testing.assert_allclose(band["min"], reference["min"], rtol=1e-12, err_msg=column)
        np.testing.assert_allclose(band["max"], reference["max"], rtol=1e-12, err_msg=column)
        assert (band["min"] > columns.min(axis=1)).all() and (band["max"] < columns.max(axis=1)).all()
        assert (band["min"] < columns.mean(axis=1)).all() and (band["max"] > columns.mean(axis=1)).all()


def test_each_panel_of_the_overlay_draws_its_own_column_its_mean_and_its_bootstrap_band():
    df = pd.concat([*GMVAE_SEEDS.values(), M2], ignore_index=True)
    fig = plots.plot_overlay(df, panels=PANELS)
    assert [ax.get_title() for ax in fig.axes] == [title for _, title, _ in PANELS]
    assert_panels_draw_their_columns(fig.axes, PANELS)
    without_replicates = plots.plot_overlay(df, panels=PANELS, show_replicates=False)
    assert_panels_draw_their_columns(without_replicates.axes, PANELS, replicates_drawn=False)


def test_each_panel_of_a_models_curves_draws_its_own_column_its_mean_and_its_bootstrap_band():
    fig = plots.plot_curves(pd.concat(GMVAE_SEEDS.values(), ignore_index=True))
    assert [ax.get_title() for ax in fig.axes] == [title for _, title, _ in plots.PANELS]
    assert_panels_draw_their_columns(fig.axes, plots.PANELS, single_runs=())


def nan_marks(fig) -> tuple[list[float], bool]:
    """(epochs of the dotted NaN lines over all panels, whether the legend (its entries or its caption) names the
    NaN mark)."""
    epochs = [line.get_xdata()[0] for ax in fig.axes for line in ax.lines if line.get_gid() == "nan_epoch"]
    texts = [text for legend in fig.legends for text in (*legend.get_texts(), legend.get_title())]
    return epochs, any("NaN" in text.get_text() for text in texts)


def test_a_nan_epoch_beyond_the_horizon_is_neither_loaded_nor_drawn(tmp_path):
    write_run(tmp_path, "modified_m2", 0, modified_log(12, nan_at=12), nan_epoch=12, epochs=20)
    assert plots.load_runs(tmp_path, ["modified_m2"], max_epoch=11)["nan_epoch"].isna().all()
    assert plots.load_runs(tmp_path, ["modified_m2"], max_epoch=12)["nan_epoch"].eq(12).all()
    full = plots.load_runs(tmp_path, ["modified_m2"])
    for draw in (plots.plot_curves, plots.plot_overlay):
        assert nan_marks(draw(full, max_epoch=11)) == ([], False)
        assert nan_marks(draw(full, max_epoch=12)) == ([12, 12, 12], True)


def test_the_confusion_rows_are_sorted_by_their_digit_ties_by_cluster_and_empty_clusters_last():
    matrix = np.array([[1, 0, 5],    # cluster 0: digit 2
                       [0, 0, 0],    # cluster 1: empty
                       [7, 1, 0],    # cluster 2: digit 0
                       [0, 4, 2],    # cluster 3: digit 1
                       [3, 0, 1]])   # cluster 4: digit 0
    ax = plots.plot_confusion(matrix).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["y=2 -> 0", "y=4 -> 0", "y=3 -> 1", "y=0 -> 2", "y=1 (empty)"]
    np.testing.assert_array_equal(ax.collections[0].get_array().reshape(5, 3), matrix[[2, 4, 3, 0, 1]])
    assert [t.get_text() for t in ax.texts][:3] == ["7", "1", "0"]
    unsorted = plots.plot_confusion(matrix, sort_clusters=False).axes[0]
    np.testing.assert_array_equal(unsorted.collections[0].get_array().reshape(5, 3), matrix)


def test_the_confusion_matrix_counts_in_blue_with_its_accuracy_and_a_cluster_of_one_image_is_not_empty():
    """Each cluster's largest count summed over all counts: (5 + 0 + 7 + 4 + 3 + 1) / 25 = 0.800."""
    matrix = np.array([[1, 0, 5], [0, 0, 0], [7, 1, 0], [0, 4, 2], [3, 0, 1], [0, 1, 0]])
    fig = plots.plot_confusion(matrix)
    ax, colorbar = fig.axes
    assert ax.get_title() == "Test images by cluster and true digit (cluster accuracy 0.800)"
    assert "y=5 -> 1" in [t.get_text() for t in ax.get_yticklabels()]
    for few in (ax, plots.plot_confusion(matrix[:2]).axes[0]):  # seaborn turns few labels upright
        assert {t.get_rotation() for t in few.get_yticklabels()} == {0}  # read across, as the digits are
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("true digit", "cluster (argmax q(y|x)) -> its majority digit")
    assert ax.collections[0].get_cmap().name == "Blues" and colorbar.get_ylabel() == "test images"
    assert {t.get_fontsize() for t in ax.texts} == {plots.COUNT_FONTSIZE} and ax.texts[0].get_text() == "7"
    for counts in (matrix * 1234, matrix * 1234.0):  # whole numbers, as integers or floats, not 1.2e+04
        assert plots.plot_confusion(counts).axes[0].texts[0].get_text() == "8638"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division of zero by zero
        assert "(cluster accuracy nan)" in plots.plot_confusion(np.zeros((2, 3), int)).axes[0].get_title()
    assert plots.plot_confusion(matrix, title="T").axes[0].get_title() == "T"
    assert fig.get_layout_engine() is not None  # constrained: the labels stay inside the figure
    width, height = fig.get_size_inches()
    wider, taller = plots.plot_confusion(np.ones((6, 4), int)), plots.plot_confusion(np.ones((9, 3), int))
    assert wider.get_size_inches()[0] > width and taller.get_size_inches()[1] > height
    assert height >= 6 * plots.CELL_HEIGHT and width >= 3 * plots.CELL_WIDTH
    assert fig.axes[0].title.get_fontsize() == plots._STYLE["axes.titlesize"]
    with pytest.raises(ValueError, match=r"plot_confusion expects a \[K, n_labels\] matrix, got shape \(3,\)"):
        plots.plot_confusion(np.ones(3))


# ----------------------------------------------------------------------------- colours, bands, legends


def hue_degrees(col) -> float:
    return colorsys.rgb_to_hls(*to_rgb(col))[0] * 360


def is_grey(col) -> bool:
    r, g, b = to_rgb(col)
    return max(r, g, b) - min(r, g, b) < 0.02


def test_each_model_has_the_posts_colour_and_every_other_run_its_own_neither_a_models_nor_grey():
    """The post: M2 blue, modified M2 green, GMVAE red. Ours in that colour, the original's in it lighter."""
    assert 200 <= hue_degrees(plots.color("m2")) <= 250                      # blue
    assert 90 <= hue_degrees(plots.color("modified_m2")) <= 160              # green
    assert hue_degrees(plots.color("gmvae")) >= 340 or hue_degrees(plots.color("gmvae")) <= 15  # red
    models = ("m2", "modified_m2", "gmvae")
    for model in models:
        ours, theirs = to_rgb(plots.color(model)), to_rgb(plots.original_color(model))
        assert sum(theirs) > sum(ours) + 0.5  # lighter
        assert abs(hue_degrees(theirs) - hue_degrees(ours)) < 3  # the same hue
    taken = {plots.color(m) for m in models} | {plots.original_color(m) for m in models}
    variants = ["modified_m2_clip", "modified_m2_float32", "modified_m2_original_graph", "m2_eta0", "m2_iaf", "modified_m2_identity",
                "modified_m2_relu_layer", "gmvae_k16"]
    assert set(variants) <= set(plots.COLORS) and set(plots.COLORS) == set(models) | set(variants)
    colours = [plots.color(v) for v in variants]
    assert len(set(colours)) == len(colours) and not set(colours) & taken
    for variant in variants:
        assert not is_grey(plots.color(variant)), variant
        assert min(abs(hue_degrees(plots.color(variant)) - hue_degrees(plots.color(m))) for m in models) > 10, variant
    assert is_grey(plots.NAN_COLOR) and is_grey(plots.ORIGINAL_NAN_COLOR)  # NaN marks: grey, no run's colour
    assert plots.color("a_run_without_a_colour") in plots.VARIANT_COLORS.values()
    fallback = list(plots.VARIANT_COLORS.values())
    assert [plots.color("mine", i) for i in (0, 1, len(fallback) + 1)] == [fallback[0], fallback[1], fallback[1]]
    assert plots.original_color("mine", 1) == plots.lighter(fallback[1])
    # lighter: that share of the way to white, the original's runs 45 % of it
    assert plots.lighter("#000000", 0.25) == "#404040" and plots.lighter("#204060") == plots.lighter("#204060", 0.45)
    assert plots.original_color("gmvae") == plots.lighter(plots.color("gmvae"), plots.ORIGINAL_LIGHTEN)


def test_runs_are_named_and_ordered_as_in_the_post_and_others_after_them_alphabetically():
    assert [plots.label(r) for r in ("m2", "modified_m2", "gmvae", "mine")] == ["M2", "modified M2", "GMVAE", "mine"]
    names = ["zeta", "gmvae", "alpha", "modified_m2_clip", "m2", "modified_m2"]
    assert sorted(names, key=plots.model_order) == ["m2", "modified_m2", "gmvae", "modified_m2_clip", "alpha", "zeta"]


# Our made-up replicates: offsets 0, 1 and 5 (times a metric's scale) at every epoch, so that their mean (2),
# median (1), min (0) and max (5) differ; each run name at its own level.
OFFSETS = {0: 0.0, 1: 1.0, 2: 5.0}
LEVELS = {"m2": 0.0, "modified_m2": 4.5, "gmvae": 3.0, "modified_m2_clip": 6.5, "modified_m2_identity": 8.0,
          "modified_m2_relu_layer": 9.0, "m2_iaf": 4.0, "m2_eta0": 5.0}
OUR_SEEDS = {"m2": (0, 1, 2), "modified_m2": (0, 1, 2), "gmvae": (0, 1, 2), "modified_m2_clip": (0, 1, 2),
             "modified_m2_identity": (0,), "modified_m2_relu_layer": (0,), "m2_iaf": (0,), "m2_eta0": (0,)}
OUR_EPOCHS, OUR_NAN = 20, ("modified_m2", 1, 12)  # modified M2 seed 1 turns NaN at epoch 12
ORIGINAL_SEEDS = {"m2": (0, 1, 2), "modified_m2": (0, 1, 2), "gmvae": (0, 1, 2, 3), "modified_m2_identity": (0,),
                  "modified_m2_relu_layer": (0,)}
ORIGINAL_NAN = ("modified_m2", 2, 15)  # the original's modified M2 seed 2 turns NaN at epoch 15


def made_up_metrics(run_name, seed, epochs) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    level, offset = LEVELS[run_name], OFFSETS.get(seed, 0.0)
    return pd.DataFrame({"epoch": e, "test_entropy": 0.05 * level + 0.02 * offset + np.exp(-e / 5),
                         "test_loss": 92 + level + offset + 30 * np.exp(-e / 4),
                         "test_accuracy": 0.2 + 0.05 * level + 0.01 * offset + 0.1 * (1 - np.exp(-e / 5)),
                         "test_mutual_information": 0.1 * level + 0.03 * offset + 0.0 * e,
                         "grad_norm_max": 50 + 5 * level + 2 * offset + e})


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A made-up results tree with every run name of the log figures, and made-up original logs."""
    tmp_path = tmp_path_factory.mktemp("results")
    for run_name, seeds in OUR_SEEDS.items():
        for seed in seeds:
            log = pd.DataFrame({c: np.zeros(OUR_EPOCHS) for c in runs.LOG_COLUMNS})
            for column, values in made_up_metrics(run_name, seed, OUR_EPOCHS).items():
                log[column] = values.to_numpy()
            nan_epoch = None
            if (run_name, seed) == OUR_NAN[:2]:
                nan_epoch = OUR_NAN[2]
                log = log[log["epoch"] <= nan_epoch].copy()
                log.loc[log["epoch"] == nan_epoch, ["test_loss", "test_entropy", "test_accuracy"]] = np.nan
            d = runs.run_dir(tmp_path, run_name, seed)
            runs.write_log(d, log)
            runs.write_record(d, {"config": {"k": 10, "iters_per_epoch": 500, "batch_size": 100, "precision": "float32",
                                             "clip_norm": 480.0 if run_name == "modified_m2_clip" else None},
                                  "status": {"completed_epochs": int(log["epoch"].max()), "nan_epoch": nan_epoch}})
    frames = []
    for run_name, seeds in ORIGINAL_SEEDS.items():
        for seed in seeds:
            log = made_up_metrics(run_name, seed, 30).drop(columns=["test_mutual_information", "grad_norm_max"])
            log["test_loss"] += 0.7  # the original's a little above ours
            nan_epoch = ORIGINAL_NAN[2] if (run_name, seed) == ORIGINAL_NAN[:2] else np.nan
            log.loc[log["epoch"] >= nan_epoch, ["test_loss", "test_entropy", "test_accuracy"]] = np.nan
            frames.append(log.assign(run_name=run_name, seed=seed, source="original", nan_epoch=nan_epoch, k=10))
    return tmp_path, pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def drawn(tree):
    """(our logs, draw) where draw(name, post_horizon) is the log figure drawn from the tree, drawn once a module."""
    results, theirs = tree
    df = plots.load_runs(results, list(OUR_SEEDS))
    cache = {}

    def draw(name, post_horizon=False):
        if (name, post_horizon) not in cache:
            cache[name, post_horizon] = figures.draw_log_figure(name, df, theirs, post_horizon=post_horizon)
        return cache[name, post_horizon]

    yield df, draw
    for fig in cache.values():
        plt.close(fig)


CURVE_FIGURES = [(name, post_horizon) for name, (kind, _, _) in figures.LOG_FIGURES.items()
                 if kind not in ("replicates", "drift")  # the drift figure: tests/test_drift_figure.py
                 for post_horizon in figures.horizons(name)]


def run_of(text: str) -> tuple[str, str]:
    """(run name, "ours" or "original") of a line's or band's label, e.g. "_GMVAE (ours): seed 2"."""
    name, source = re.fullmatch(r"_?(.+) \((ours|original)\): .*", text).groups()
    return {plots.label(r): r for r in plots.COLORS}[name], source


def drawn_artists(fig):
    """Every line and band of ours or the original's, on each panel and in its inset."""
    for ax in fig.axes:
        for a in (ax, *ax.child_axes):
            yield from (line for line in a.lines if line.get_gid() in ("mean", "replicate", "original_mean"))
            yield from (band for band in a.collections if band.get_gid() in ("band", "original_band"))


@pytest.mark.parametrize("name, post_horizon", CURVE_FIGURES, ids=[f"{n}-{'200' if p else 'ours'}" for n, p in CURVE_FIGURES])
def test_every_figure_draws_each_run_in_its_colour_ours_solid_the_originals_lighter_and_dashed(drawn, name, post_horizon):
    _, draw = drawn
    fig = draw(name, post_horizon)
    seen = set()
    for artist in drawn_artists(fig):
        run_name, source = run_of(artist.get_label())
        seen.add((run_name, source))
        expected = plots.color(run_name) if source == "ours" else plots.original_color(run_name)
        if isinstance(artist, Line2D):
            assert (artist.get_color(), artist.get_linestyle()) == (expected, "-" if source == "ours" else "--"), \
                artist.get_label()
        else:  # a band: filled, or hatched in the colour where drawn over another run
            face, edge = artist.get_facecolor(), artist.get_edgecolor()
            drawn = face[0] if len(face) and face[0][3] > 0 else edge[0]
            assert to_hex(drawn[:3]) == expected.lower(), artist.get_label()
    _, run_names, _ = figures.LOG_FIGURES[name]
    assert {r for r, _ in seen} == set(run_names)
    assert {r for r, source in seen if source == "original"} == set(run_names) & set(ORIGINAL_SEEDS)
    # NaN marks (modified M2's) in grey, ours dark and the original's light, and named so in the caption
    marks = [line for ax in fig.axes for line in ax.lines if line.get_gid() and "nan_" in line.get_gid()]
    caption = fig.legends[0].get_title().get_text()
    if "modified_m2" not in run_names:
        assert marks == [] and "NaN" not in caption
        return
    theirs_marked = {line.get_color() for line in marks if line.get_gid().startswith("original_")}
    ours_marked = {line.get_color() for line in marks if not line.get_gid().startswith("original_")}
    assert (theirs_marked, ours_marked) == ({plots.ORIGINAL_NAN_COLOR}, {plots.NAN_COLOR})
    assert is_grey(plots.NAN_COLOR) and is_grey(plots.ORIGINAL_NAN_COLOR)
    assert "Dotted line and dark grey X: a run of ours turned NaN at that epoch; " \
           "light grey x: a run of the original's turned NaN." in caption


@pytest.mark.parametrize("name, post_horizon", CURVE_FIGURES, ids=[f"{n}-{'200' if p else 'ours'}" for n, p in CURVE_FIGURES])
def test_every_figure_draws_the_mean_of_our_replicates_not_their_median(drawn, name, post_horizon):
    df, draw = drawn
    fig = draw(name, post_horizon)
    kind, _, _ = figures.LOG_FIGURES[name]
    panels = {"information": (plots.MUTUAL_INFORMATION_PANEL, *plots.PANELS),
              "clipping": (plots.PANELS[1], plots.PANELS[2], plots.GRADIENT_NORM_PANEL)}.get(kind, plots.PANELS)
    checked = 0
    for ax, (column, _, _) in zip(fig.axes, panels):
        for line in (line for line in ax.lines if line.get_gid() == "mean"):
            run_name, _ = run_of(line.get_label())
            replicates = df[df["run_name"] == run_name].pivot(index="epoch", columns="seed", values=column)
            np.testing.assert_allclose(line.get_xdata(), replicates.index)
            np.testing.assert_allclose(line.get_ydata(), replicates.mean(axis=1), rtol=1e-12, err_msg=line.get_label())
            if replicates.shape[1] == 3:  # mean, median, min and max all differ here
                for other in (replicates.median(axis=1), replicates.min(axis=1), replicates.max(axis=1)):
                    assert not np.allclose(line.get_ydata()[:11], other.to_numpy()[:11])
                checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name, post_horizon", CURVE_FIGURES, ids=[f"{n}-{'200' if p else 'ours'}" for n, p in CURVE_FIGURES])
def test_every_band_says_in_the_legend_what_it_is(drawn, name, post_horizon):
    """Ours: the 68 % bootstrap interval of the mean (the post's band); the original's: the min-max of its runs."""
    _, draw = drawn
    fig = draw(name, post_horizon)
    legend = fig.legends[0]
    entries, caption = [t.get_text() for t in legend.get_texts()], legend.get_title().get_text()
    bands = {source for band in drawn_artists(fig) if not isinstance(band, Line2D)
             for _, source in [run_of(band.get_label())]}
    assert bands == {"ours", "original"}
    assert "Bands: ours, the 68 % bootstrap confidence interval (CI) of the mean, as in the post's figures; " \
           "the original's, the min-max of its runs." in caption
    for entry in entries:
        run_name, source = run_of(entry)
        several = len((OUR_SEEDS if source == "ours" else ORIGINAL_SEEDS)[run_name]) > 1
        what = "mean and 68 % CI" if source == "ours" else "mean and min-max"
        assert entry.endswith(what if several else "1 run"), entry
    for band in drawn_artists(fig):
        if not isinstance(band, Line2D):
            assert band.get_label().split(": ")[1].startswith(
                "68 % bootstrap CI of the mean" if run_of(band.get_label())[1] == "ours" else "min-max of"), band.get_label()


def test_the_overlay_has_at_most_six_legend_entries_and_zooms_into_the_last_epochs_loss(drawn):
    """Three models, ours and the original's of each, with NaN marks of both: six entries, the rest in the caption.
    The loss panel's inset shows the last half of our epochs (also when drawn to the post's 200) on a y axis where
    the 2-nat gap of the two closest models' final means is a tenth of the height or more; on the panel's own axis
    it is not."""
    _, draw = drawn
    for post_horizon in (False, True):
        fig = draw("overlay.png", post_horizon)
        assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) <= 6
        loss = fig.axes[1]
        inset, = loss.child_axes
        assert inset.get_xlim() == (OUR_EPOCHS // 2, OUR_EPOCHS)
        final = {run_of(line.get_label())[0]: line.get_ydata()[np.isfinite(line.get_ydata())][-1]
                 for line in inset.lines if line.get_gid() == "mean"}
        assert set(final) == {"m2", "modified_m2", "gmvae"}
        gap = min(abs(a - b) for a, b in itertools.combinations(final.values(), 2))
        assert gap == pytest.approx(2.0, abs=0.01)  # modified M2's mean (seed 1 gone NaN) above GMVAE's
        assert gap / np.ptp(inset.get_ylim()) >= 0.1 > gap / np.ptp(loss.get_ylim())


def test_the_bootstrap_interval_of_each_epoch_resamples_the_replicates_that_have_a_value_there():
    """Replicates that end early (or turned NaN) drop out of the epochs after: those epochs resample the others.
    One value left: the interval is that value; none: NaN."""
    values = np.array([[1.0, 2.0, 7.0], [1.5, 2.5, 9.0], [2.0, 3.0, np.nan], [4.0, np.nan, np.nan],
                       [np.nan, np.nan, np.nan]])
    lo, hi = plots.bootstrap_interval(values)
    full = bootstrap_of_the_mean(pd.DataFrame(values[:2]))
    np.testing.assert_allclose(lo[:2], full["min"], rtol=1e-12)
    np.testing.assert_allclose(hi[:2], full["max"], rtol=1e-12)
    two = bootstrap_of_the_mean(pd.DataFrame(values[2:3, :2]))
    np.testing.assert_allclose([lo[2], hi[2]], [two["min"].iloc[0], two["max"].iloc[0]], rtol=1e-12)
    assert (lo[3], hi[3]) == (4.0, 4.0) and np.isnan(lo[4]) and np.isnan(hi[4])
    assert 1.0 < lo[0] < values[0].mean() < hi[0] < 7.0  # inside the runs' range, around their mean
    again = plots.bootstrap_interval(values)
    np.testing.assert_array_equal(np.concatenate([lo, hi]), np.concatenate(again))


def test_the_bootstrap_interval_is_the_16th_to_84th_percentile_of_the_resampled_means():
    """Eight replicates of spread values, whose resampled means lie close together: a percentile half a point off
    would show. One-dimensional values are refused."""
    values = np.random.default_rng(7).normal(size=(3, 8)) * [1, 2, 3, 5, 8, 13, 21, 34]
    lo, hi = plots.bootstrap_interval(values)
    full = bootstrap_of_the_mean(pd.DataFrame(values))
    np.testing.assert_allclose(lo, full["min"], rtol=1e-12)
    np.testing.assert_allclose(hi, full["max"], rtol=1e-12)
    with pytest.raises(ValueError, match=r"^bootstrap_interval expects \[epochs, replicates\], got shape \(8,\)$"):
        plots.bootstrap_interval(values[0])
    assert [part.shape for part in plots.bootstrap_interval(values[:0])] == [(0,), (0,)]  # no epochs: no interval


def test_our_band_is_a_68_percent_interval_of_the_mean_the_same_at_every_drawing():
    """40 replicates spread as 40 evenly spaced quantiles of N(0, 1) plus a trend: the 68 % bootstrap interval of
    their mean is about one standard error wide on each side (sd / sqrt(40), 0.16), far narrower than the runs'
    spread and than a 95 % interval; drawing it again draws the same band."""
    from scipy.stats import norm

    n = 40
    spread = norm.ppf((np.arange(n) + 0.5) / n)
    df = pd.concat([replicate("gmvae", seed, level=1.0 + spread[seed], slope=0.01) for seed in range(n)], ignore_index=True)
    band = our_band(plots.plot_curves(df).axes[1])
    columns = pd.DataFrame({seed: g["test_loss"].to_numpy() for seed, g in df.groupby("seed")}, index=EPOCHS)
    error = columns.std(axis=1, ddof=0) / np.sqrt(n)
    np.testing.assert_allclose(columns.mean(axis=1) - band["min"], error, rtol=0.15)
    np.testing.assert_allclose(band["max"] - columns.mean(axis=1), error, rtol=0.15)
    again = our_band(plots.plot_curves(df).axes[1])
    pd.testing.assert_frame_equal(band, again)


def test_the_accuracy_per_replicate_figure_draws_ours_in_gmvae_red_and_the_originals_lighter(tree):
    results, theirs = tree
    fig = figures.draw_log_figure("gmvae_accuracy_per_replicate.png", plots.load_runs(results, ["gmvae"]), theirs)
    ax = fig.axes[0]
    dots = [line.get_color() for line in ax.lines if line.get_gid() == "replicate"]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert [c for c, text in zip(dots, labels) if text.startswith("ours")] == [plots.color("gmvae")]
    assert {c for c, text in zip(dots, labels) if text.startswith("original")} == {plots.original_color("gmvae")}



# ------------------------------------------------------------------------------------- claims


UNIFORM, MAJORITY, FAR_BETTER, BEST = ("M2's q(y|x) becomes uniform", "M2's cluster accuracy falls to the majority-class rate",
                                       "Modified M2 clusters far better than M2", "GMVAE clusters best")
LOWEST, HIGHEST = "M2 reaches the lowest variational loss", "Modified M2 has the highest variational loss"
NAN = "Modified M2 turns NaN after a few hundred epochs"


@pytest.mark.parametrize("logs, claim, measured, verdict", [
    pytest.param([run_log("m2", entropy=2.2001)], UNIFORM, "M2 H(y|x) 2.200 nats (epoch 3, 1 run)", "supported",
                 id="entropy above 2.2"),
    pytest.param([run_log("m2", entropy=2.2)], UNIFORM, "M2 H(y|x) 2.200 nats (epoch 3, 1 run)", "not supported",
                 id="entropy 2.2"),
    pytest.param([run_log("m2", accuracy=0.1999)], MAJORITY, "M2 accuracy 0.200 (epoch 3, 1 run)", "supported",
                 id="accuracy below 0.2"),
    pytest.param([run_log("m2", accuracy=0.2)], MAJORITY, "M2 accuracy 0.200 (epoch 3, 1 run)", "not supported",
                 id="accuracy 0.2"),
    pytest.param([run_log("m2", accuracy=0.25), run_log("modified_m2", accuracy=0.4501)], FAR_BETTER,
                 "0.450 - 0.250 = +0.200 (epoch 3)", "supported", id="gap above 0.2"),
    pytest.param([run_log("m2", accuracy=0.25), run_log("modified_m2", accuracy=0.45)], FAR_BETTER,
                 "0.450 - 0.250 = +0.200 (epoch 3)", "not supported", id="gap 0.2"),          # 0.45 - 0.25 == 0.2 in floats
    pytest.param([run_log("m2", accuracy=0.2), run_log("modified_m2", accuracy=0.6), run_log("gmvae", accuracy=0.6001)], BEST,
                 "M2 0.200, modified M2 0.600, GMVAE 0.600 (epoch 3)", "supported", id="GMVAE just best"),
    pytest.param([run_log("m2", accuracy=0.2), run_log("modified_m2", accuracy=0.6), run_log("gmvae", accuracy=0.6)], BEST,
                 "M2 0.200, modified M2 0.600, GMVAE 0.600 (epoch 3)", "not supported", id="GMVAE tied"),
    pytest.param([run_log("m2", loss=90.0), run_log("modified_m2", loss=110.0), run_log("gmvae", loss=90.0)], LOWEST,
                 "M2 90.000, modified M2 110.000, GMVAE 90.000 (epoch 3)", "not supported", id="M2 tied lowest"),
    pytest.param([run_log("m2", loss=90.0), run_log("modified_m2", loss=110.0), run_log("gmvae", loss=110.0)], HIGHEST,
                 "M2 90.000, modified M2 110.000, GMVAE 110.000 (epoch 3)", "not supported", id="modified M2 tied highest"),
    pytest.param([run_log("modified_m2", epochs=100, nan_epoch=100)], NAN, "NaN at epoch 100 (1 of 1 runs)", "supported",
                 id="NaN at 100"),
    pytest.param([run_log("modified_m2", epochs=99, nan_epoch=99)], NAN, "NaN at epoch 99 (1 of 1 runs)", "not supported",
                 id="NaN at 99"),
    pytest.param([run_log("modified_m2", epochs=250, nan_epoch=250), run_log("modified_m2", seed=1, epochs=99, nan_epoch=99),
                  run_log("modified_m2", seed=2, epochs=300)], NAN, "NaN at epoch 99, 250 (2 of 3 runs)", "not supported",
                 id="the earliest NaN decides"),
    pytest.param([run_log("modified_m2", epochs=300)], NAN, "no NaN in 1 run up to epoch 300", "not supported",
                 id="300 epochs without NaN"),
    pytest.param([run_log("modified_m2", epochs=299)], NAN, "no NaN in 1 run up to epoch 299", "not reached",
                 id="299 epochs without NaN"),
])
def test_each_claim_at_the_edge_of_its_threshold(logs, claim, measured, verdict):
    table = claims.claims_table(pd.concat(logs, ignore_index=True))
    row, = table[table["claim"] == claim].itertuples()
    assert (row.measured, row.verdict) == (measured, verdict)
