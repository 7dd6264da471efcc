"""What the figures and the claims table say: every line and band edge drawn on a panel is that panel's log
column, the confusion matrix's rows are sorted by their digit, a NaN epoch beyond the horizon is not drawn,
and each claim's threshold decides at its very edge, saying what it measured.

The logs are made up; they are never results.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gmvae.reporting import claims, plots  # noqa: E402
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


# Two GMVAE replicates that cross between epochs 3 and 4, so the band's edges switch replicate there; one M2 run.
GMVAE_SEEDS = {3: replicate("gmvae", 3, level=0.2, slope=0.05), 8: replicate("gmvae", 8, level=0.5, slope=-0.03)}
M2 = replicate("m2", 0, level=0.7, slope=0.01)


def our_curves(ax) -> list[tuple[np.ndarray, np.ndarray]]:
    """(epochs, values) of every line of ours on a panel: reference lines, NaN marks and the original's have a gid."""
    return [(line.get_xdata(), line.get_ydata()) for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]


def our_band(ax) -> pd.DataFrame:
    """Lowest and highest edge of our one filled band at each epoch, from the polygon's vertices."""
    band, = [c for c in ax.collections if c.get_gid() is None]
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
    """On each panel: GMVAE's mean and (if drawn) replicates, each single run's line, GMVAE's min-max band."""
    for ax, (column, _, _) in zip(axes, panels):
        columns = pd.DataFrame({seed: log[column].to_numpy() for seed, log in GMVAE_SEEDS.items()}, index=EPOCHS)
        expected = [(EPOCHS, columns.mean(axis=1).to_numpy()), *((EPOCHS, run[column].to_numpy()) for run in single_runs)]
        if replicates_drawn:
            expected += [(EPOCHS, columns[seed].to_numpy()) for seed in GMVAE_SEEDS]
        assert_same_curves(our_curves(ax), expected)
        band = our_band(ax)
        assert list(band.index) == list(EPOCHS)
        np.testing.assert_allclose(band["min"], columns.min(axis=1), rtol=1e-12, err_msg=column)
        np.testing.assert_allclose(band["max"], columns.max(axis=1), rtol=1e-12, err_msg=column)


def test_each_panel_of_the_overlay_draws_its_own_column_its_mean_and_its_min_max():
    df = pd.concat([*GMVAE_SEEDS.values(), M2], ignore_index=True)
    fig = plots.plot_overlay(df, panels=PANELS)
    assert [ax.get_title() for ax in fig.axes] == [title for _, title, _ in PANELS]
    assert_panels_draw_their_columns(fig.axes, PANELS)
    without_replicates = plots.plot_overlay(df, panels=PANELS, show_replicates=False)
    assert_panels_draw_their_columns(without_replicates.axes, PANELS, replicates_drawn=False)


def test_each_panel_of_a_models_curves_draws_its_own_column_its_mean_and_its_min_max():
    fig = plots.plot_curves(pd.concat(GMVAE_SEEDS.values(), ignore_index=True))
    assert [ax.get_title() for ax in fig.axes] == [title for _, title, _ in plots.PANELS]
    assert_panels_draw_their_columns(fig.axes, plots.PANELS, single_runs=())


def nan_marks(fig) -> tuple[list[float], bool]:
    """(epochs of the dotted NaN lines over all panels, whether the legend names the NaN mark)."""
    epochs = [line.get_xdata()[0] for ax in fig.axes for line in ax.lines if line.get_gid() == "nan_epoch"]
    return epochs, any("NaN" in text.get_text() for legend in fig.legends for text in legend.get_texts())


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
