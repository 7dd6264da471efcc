"""The drift figure (gmvae.reporting.drift) draws each run's logged smallest values, marks a NaN, and shows float32's
limits."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from gmvae.reporting.drift import FLOAT32_SMALLEST, PANELS, closest_approach, plot_drift
from gmvae.reporting.figures import LOG_FIGURES, draw_log_figure

matplotlib.use("Agg")


def drift_log(run_name, seed, epochs, nan_epoch=None):
    e = np.arange(1, epochs + 1)
    zigzag = np.where(e % 2, 1.0, 50.0)  # not monotone: a running minimum or a smoothing would show
    frame = pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": e, "source": "ours",
                          "nan_epoch": np.nan if nan_epoch is None else float(nan_epoch),
                          "q_z_var_min": zigzag * 10.0 ** -(e + seed), "decoder_var_min": zigzag * 10.0 ** -(2 * e + seed),
                          "log_q_y_min": -10.0 * e - seed + zigzag})
    if nan_epoch is not None:
        frame.loc[frame["epoch"] == nan_epoch, list(PANELS)] = np.nan
    return frame


def test_each_run_is_a_line_of_its_logged_values_and_a_nan_is_marked_at_the_last_finite_value():
    df = pd.concat([drift_log("modified_m2_float32", 0, 5), drift_log("modified_m2_float32", 1, 5),
                    drift_log("modified_m2_original_graph", 0, 4, nan_epoch=4)])
    fig = plot_drift(df)
    for ax, column in zip(fig.axes, PANELS):
        lines = {line.get_label(): line for line in ax.get_lines()}
        for (run_name, seed), run in df.groupby(["run_name", "seed"]):
            drawn = [l for label, l in lines.items() if label.endswith(f"seed {seed}") and
                     (("original" in label) == ("original_graph" in run_name))]
            assert len(drawn) == 1, (column, run_name, seed)
            np.testing.assert_array_equal(drawn[0].get_ydata(), run.sort_values("epoch")[column])
        crosses = [l for l in ax.get_lines() if l.get_marker() == "x"]
        assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [4]
        last_finite = df[(df["run_name"] == "modified_m2_original_graph") & (df["epoch"] == 3)][column].iloc[0]
        assert list(crosses[0].get_ydata()) == [last_finite]
    assert FLOAT32_SMALLEST in [l.get_ydata()[0] for l in fig.axes[0].get_lines()]
    assert np.log(FLOAT32_SMALLEST) in [l.get_ydata()[0] for l in fig.axes[2].get_lines()]


def test_the_drift_figure_is_drawn_only_where_the_nan_profiles_runs_are():
    assert draw_log_figure("nan_drift.png", drift_log("modified_m2", 0, 3)) is None
    assert draw_log_figure("nan_drift.png", drift_log("modified_m2_float32", 0, 3)) is not None
    assert LOG_FIGURES["nan_drift.png"][1] == ("modified_m2_float32", "modified_m2_original_graph")


def test_every_panel_shows_how_far_the_runs_stay_from_float32s_limits():
    """A run far from underflow (its variances above 1e-8, log q(y|x) above -50) still shows the limits it stays
    above."""
    df = drift_log("modified_m2_float32", 0, 300)
    df["q_z_var_min"] = np.geomspace(2e-2, 7e-6, 300)
    df["decoder_var_min"] = np.geomspace(1.0, 4e-8, 300)
    df["log_q_y_min"] = np.linspace(-1.0, -50.0, 300)
    for ax, (column, (_, _, limits)) in zip(plot_drift(df).axes, PANELS.items()):
        low, high = ax.get_ylim()
        assert low <= min(limits) and high >= df[column].max(), (column, ax.get_ylim())


def test_the_closest_approach_is_each_models_smallest_value_over_its_runs_and_epochs():
    """Worked by hand from drift_log: seed s at epoch e logs q_z_var_min zigzag * 10^-(e + s), decoder_var_min
    zigzag * 10^-(2e + s) and log_q_y_min -10e - s + zigzag, zigzag 1 at odd epochs and 50 at even ones."""
    df = pd.concat([drift_log("modified_m2_float32", 0, 3), drift_log("modified_m2_float32", 1, 4, nan_epoch=4),
                    drift_log("modified_m2_original_graph", 0, 2)])
    table = closest_approach(df)
    ours = table.loc["modified_m2_float32"]
    assert (ours["runs"], ours["last_epoch"], ours["nan_epochs"]) == (2, 3, [4])
    # seed 1, epoch 3 (odd): 10^-4 and 10^-7; log q(y|x): -31 + 1 = -30 (seed 1, epoch 3)
    assert ours["q_z_var_min"] == pytest.approx(1e-4) and ours["decoder_var_min"] == pytest.approx(1e-7)
    assert ours["log_q_y_min"] == -30.0
    assert ours["orders_above_normal"] == pytest.approx(np.log10(1e-7 / 1.1754944e-38))
    graph = table.loc["modified_m2_original_graph"]
    assert (graph["runs"], graph["last_epoch"], graph["nan_epochs"]) == (1, 2, [])
    assert graph["decoder_var_min"] == pytest.approx(50 * 1e-4)  # epoch 2 (even): 50 * 10^-4 beats 10^-2
