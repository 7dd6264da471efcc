"""The fidelity table and the claims against the original, on made-up logs whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmvae import claims, fidelity


def long_log(run_name, seed, epochs, accuracy, entropy, loss, source):
    e = np.arange(1, epochs + 1)
    return pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": e, "source": source, "nan_epoch": np.nan,
                         "test_accuracy": accuracy(e), "test_entropy": entropy(e), "test_loss": loss(e)})


def constant(value):
    return lambda e: np.full(len(e), float(value))


@pytest.fixture
def case():
    """The original: GMVAE runs with accuracy 0.500 and 0.600, loss 1.00e+02 and 1.03e+02, and a third
    in between that stops at epoch 5. Ours: seed 0 just inside each widened edge, seed 1 just outside."""
    theirs = pd.concat([
        long_log("gmvae", 0, 12, constant(0.5), constant(0.2), constant(100.0), "original"),
        long_log("gmvae", 1, 12, constant(0.6), constant(0.3), constant(103.0), "original"),
        long_log("gmvae", 2, 5, constant(0.55), constant(0.25), constant(101.0), "original"),
    ])
    ours = pd.concat([
        long_log("gmvae", 0, 10, constant(0.6004), constant(0.25), lambda e: 99.6 + 0 * e, "ours"),
        long_log("gmvae", 1, 10, constant(0.6006), constant(0.25), lambda e: 99.4 + 0.01 * e, "ours"),
    ])
    return ours, theirs


def row(table, metric, epoch, run):
    found = table[(table["metric"] == metric) & (table["epoch"] == epoch) & (table["run"] == run)]
    assert len(found) == 1, (metric, epoch, run)
    return found.iloc[0]


def test_edges_widen_by_half_a_logged_unit_and_no_more(case):
    table = fidelity.fidelity_table(*case)
    r = row(table, "accuracy", 5, "seed 0")
    assert (r["original_runs"], r["original_min"], r["original_max"]) == (3, 0.5, 0.6)
    assert (r["low"], r["high"]) == pytest.approx((0.4995, 0.6005))
    assert r["inside"] and not row(table, "accuracy", 5, "seed 1")["inside"]
    r = row(table, "loss", 5, "seed 0")
    assert (r["low"], r["high"]) == pytest.approx((99.5, 103.5))
    assert r["inside"] and not row(table, "loss", 5, "seed 1")["inside"]  # 99.45 < 99.5


def test_epochs_reached_by_fewer_original_runs_and_our_last(case):
    ours, theirs = case
    table = fidelity.fidelity_table(ours, theirs)
    assert sorted(set(table["epoch"])) == [1, 5, 10]  # 20 and 50 not reached by ours; 10 is our last
    r = row(table, "loss", 10, "seed 0")
    assert (r["original_runs"], r["original_min"], r["original_max"]) == (2, 100.0, 103.0)
    assert row(table, "loss", 5, "seed 0")["original_mean"] == pytest.approx((100 + 103 + 101) / 3)
    assert set(table["run"]) == {"seed 0", "seed 1", "mean"}
    assert row(table, "accuracy", 10, "mean")["ours"] == pytest.approx(0.6005)


def test_five_epoch_means(case):
    ours, theirs = case
    table = fidelity.fidelity_table(ours, theirs)
    # seed 1's loss is 99.4 + 0.01 e: the mean of epochs 6-10 is 99.48, of epochs 1-5 is 99.43 (epoch 5)
    assert row(table, "loss", 10, "seed 1")["ours_last5"] == pytest.approx(99.48)
    assert row(table, "loss", 5, "seed 1")["ours_last5"] == pytest.approx(99.43)
    assert row(table, "loss", 1, "seed 1")["ours_last5"] == pytest.approx(99.41)
    r = row(table, "loss", 5, "seed 0")
    assert (r["original_last5_min"], r["original_last5_max"]) == (100.0, 103.0)
    assert not row(table, "loss", 10, "seed 1")["inside_last5"]


def test_the_mean_is_over_the_seeds_that_reached_the_epoch(case):
    ours, theirs = case
    shorter = ours[(ours["seed"] == 0) | (ours["epoch"] <= 5)]   # seed 1 stops at epoch 5
    table = fidelity.fidelity_table(shorter, theirs)
    assert set(table.loc[table["epoch"] == 10, "run"]) == {"seed 0"}
    assert row(table, "accuracy", 5, "mean")["ours"] == pytest.approx(0.6005)


def test_models_without_an_original_counterpart_are_left_out(case):
    ours, theirs = case
    extra = long_log("m2_iaf", 0, 10, constant(0.1), constant(2.3), constant(90.0), "ours")
    table = fidelity.fidelity_table(pd.concat([ours, extra]), theirs)
    assert set(table["run_name"]) == {"gmvae"}
    assert fidelity.fidelity_table(ours.iloc[0:0], theirs).empty


def test_markdown_rows_mark_what_is_outside(case):
    md = fidelity.fidelity_markdown_table(fidelity.fidelity_table(*case))
    first = md.iloc[0]
    assert first["original min / mean / max (runs)"] == "0.5000 / 0.5500 / 0.6000 (3)"
    assert set(md["inside"]) == {"yes", "**no**"}


def test_claims_against_the_original(case):
    ours, theirs = case
    modified = long_log("modified_m2", 0, 300, constant(0.6), constant(0.1), constant(97.0), "original")
    modified["nan_epoch"] = 228.0
    table = claims.claims_table(ours, pd.concat([theirs, modified]))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    measured = dict(zip(table["claim"], table["measured"]))
    assert verdicts["Our GMVAE lies inside the original's range at our last epoch"] == "not supported"
    assert "seed 1" in measured["Our GMVAE lies inside the original's range at our last epoch"]
    assert "seed 0" not in measured["Our GMVAE lies inside the original's range at our last epoch"]
    assert verdicts["Our M2 lies inside the original's range at our last epoch"] == "not reached"
    nan_claim = "Modified M2 turns NaN after a few hundred epochs, in the original's logs"
    assert (measured[nan_claim], verdicts[nan_claim]) == ("NaN at epoch 228 (1 of 1 runs)", "supported")
    inside = ours[ours["seed"] == 0]
    verdicts = dict(zip(*claims.claims_table(inside, theirs)[["claim", "verdict"]].T.values))
    assert verdicts["Our GMVAE lies inside the original's range at our last epoch"] == "supported"


def test_claims_without_the_original_keep_the_post_claims_only(case):
    assert len(claims.claims_table(case[0])) == 7
    assert len(claims.claims_table(case[0], case[1])) == 11


def test_models_come_in_the_posts_order_whatever_order_the_logs_were_read_in(case):
    ours, theirs = case
    m2 = long_log("m2", 0, 10, constant(0.11), constant(2.3), constant(95.0), "ours")
    m2_theirs = long_log("m2", 0, 10, constant(0.11), constant(2.3), constant(95.0), "original")
    table = fidelity.fidelity_table(pd.concat([ours, m2]), pd.concat([theirs, m2_theirs]))
    assert list(dict.fromkeys(table["run_name"])) == ["m2", "gmvae"]
