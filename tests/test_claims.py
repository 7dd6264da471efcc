"""The claims table row by row, by literal, on logs whose every number is worked by hand. The values rise with
the epoch and differ by seed, so a value read at the wrong epoch or from the wrong run changes a row."""

from __future__ import annotations

import pandas as pd
import pytest

from gmvae.reporting import claims
from made_up_logs import linear, run_log


RISING = linear(0.0, 0.001)


def worked_logs():
    """M2: three runs (20, 18 and 19 epochs): H(y|x) 2.40, 2.38 and 2.39, accuracy 0.120, 0.118 and 0.119, loss
    92.0, 91.8 and 91.9.
    Modified M2: one run of 20 epochs, accuracy 0.520, loss 102.0. GMVAE: three runs (20, 20, 18 epochs),
    accuracy 0.780, 0.830, 0.718 at their ends, 0.778, 0.828 and 0.718 at epoch 18; loss 97.0, 97.0, 96.8."""
    return pd.concat([
        run_log("m2", 0, 20, accuracy=linear(0.1, 0.001), entropy=linear(2.2, 0.01), loss=linear(90.0, 0.1)),
        run_log("m2", 1, 18, accuracy=linear(0.1, 0.001), entropy=linear(2.2, 0.01), loss=linear(90.0, 0.1)),
        run_log("m2", 2, 19, accuracy=linear(0.1, 0.001), entropy=linear(2.2, 0.01), loss=linear(90.0, 0.1)),
        run_log("modified_m2", 0, 20, accuracy=linear(0.5, 0.001), entropy=0.5, loss=linear(100.0, 0.1)),
        run_log("gmvae", 0, 20, accuracy=linear(0.76, 0.001), entropy=0.1, loss=linear(95.0, 0.1)),
        run_log("gmvae", 1, 20, accuracy=linear(0.81, 0.001), entropy=0.1, loss=linear(95.0, 0.1)),
        run_log("gmvae", 2, 18, accuracy=linear(0.70, 0.001), entropy=0.1, loss=linear(95.0, 0.1)),
    ], ignore_index=True)


def test_every_row_of_the_claims_table_worked_by_hand():
    table = claims.claims_table(worked_logs())
    assert list(table.columns) == claims.CLAIM_COLUMNS
    rows = [tuple(row) for row in table[["section", "claim", "measured", "verdict"]].itertuples(index=False)]
    assert rows == [
        ("1 M2", "M2's q(y|x) becomes uniform", "M2 H(y|x) 2.390 nats (epochs 18-20, 3 runs)", "supported"),
        ("1 M2", "M2's cluster accuracy falls to the majority-class rate", "M2 accuracy 0.119 (epochs 18-20, 3 runs)",
         "supported"),
        ("2 modified M2", "Modified M2 clusters far better than M2", "0.520 - 0.119 = +0.401 (epoch 20)", "supported"),
        ("3 GMVAE", "GMVAE clusters best", "M2 0.119, modified M2 0.520, GMVAE 0.776 (epoch 20)", "supported"),
        ("4 overlay", "M2 reaches the lowest variational loss",
         "M2 91.900, modified M2 102.000, GMVAE 96.933 (epoch 20)", "supported"),
        ("4 overlay", "Modified M2 has the highest variational loss",
         "M2 91.900, modified M2 102.000, GMVAE 96.933 (epoch 20)", "supported"),
        ("2 modified M2", "Modified M2 turns NaN after a few hundred epochs", "no NaN in 1 run up to epoch 20",
         "not reached"),
        ("2 modified M2", "Clipping the gradients would prevent the NaN", "no log of modified M2 with clipped gradients",
         "not reached"),
        ("3 GMVAE", "By epoch 1000, five of six GMVAE replicates are above 80 % accuracy",
         "1 of 3 above 0.80 at epoch 18", "not reached"),
    ]
    rules = dict(zip(table["claim"], table["rule"]))
    assert rules["M2's q(y|x) becomes uniform"] == "final M2 test H(y|x) > 2.2 nats (ln 10 = 2.303)"
    assert rules["M2's cluster accuracy falls to the majority-class rate"] == (
        "final M2 test accuracy < 0.2 (majority-class rate 0.1135)")
    assert rules["Modified M2 clusters far better than M2"] == (
        "accuracy of modified M2 minus M2's > 0.2, at the last epoch both reached")
    assert rules["Modified M2 turns NaN after a few hundred epochs"] == (
        "a modified-M2 run turns NaN at epoch >= 100; testable only with >= 300 epochs without NaN")
    assert rules["GMVAE clusters best"] == (
        "mean test accuracy of GMVAE above both other models', at the last epoch all three reached")
    assert rules["M2 reaches the lowest variational loss"] == (
        "mean test loss of M2 below both other models', at the last epoch all three reached")
    assert rules["Modified M2 has the highest variational loss"] == (
        "mean test loss of modified M2 above both other models', at the last epoch all three reached")


def test_models_trained_for_different_numbers_of_epochs_are_compared_at_the_last_epoch_all_reached():
    """Modified M2 trains to 30 epochs, M2 and GMVAE to 20 (the post profile's 300 against 200). At epoch 20 modified
    M2's loss 104 - 0.4 * 20 = 96.0 is the highest and its accuracy 0.48 + 0.01 * 20 = 0.680 below GMVAE's 0.700; at
    its own last epoch, 30, they would be 92.0 (not the highest) and 0.780 (above GMVAE's)."""
    table = claims.claims_table(pd.concat([
        run_log("m2", 0, 20, accuracy=0.11, entropy=2.3, loss=92.5),
        run_log("modified_m2", 0, 30, accuracy=linear(0.48, 0.01), entropy=0.1, loss=linear(104.0, -0.4)),
        run_log("gmvae", 0, 20, accuracy=0.7, entropy=0.1, loss=94.0),
    ], ignore_index=True))
    measured = dict(zip(table["claim"], zip(table["measured"], table["verdict"])))
    assert measured["GMVAE clusters best"] == ("M2 0.110, modified M2 0.680, GMVAE 0.700 (epoch 20)", "supported")
    assert measured["Modified M2 has the highest variational loss"] == (
        "M2 92.500, modified M2 96.000, GMVAE 94.000 (epoch 20)", "supported")
    assert measured["Modified M2 clusters far better than M2"] == ("0.680 - 0.110 = +0.570 (epoch 20)", "supported")


def test_the_originals_nan_row_without_its_modified_m2_logs_says_so():
    original = run_log("gmvae", 0, 5, accuracy=RISING, entropy=RISING, loss=RISING).assign(source="original")
    table = claims.claims_table(run_log("modified_m2", 0, 5, accuracy=RISING, entropy=RISING, loss=RISING), original)
    row = table[table["claim"] == "Modified M2 turns NaN after a few hundred epochs, in the original's logs"]
    assert row[["measured", "verdict"]].values.tolist() == [["no original log of modified M2", "not reached"]]


def test_each_threshold_itself_does_not_support_its_claim():
    """H(y|x) exactly 2.2, accuracy exactly 0.2, a gap of exactly 0.2 (0.4 - 0.2), GMVAE's accuracy equal to
    modified M2's, and losses tied: every ordering and threshold is strict, so none is supported."""
    table = claims.claims_table(pd.concat([
        run_log("m2", 0, 5, accuracy=0.2, entropy=2.2, loss=100.0),
        run_log("modified_m2", 0, 5, accuracy=0.4, entropy=0.0, loss=100.0),
        run_log("gmvae", 0, 5, accuracy=0.4, entropy=0.0, loss=100.0),
    ], ignore_index=True))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    for claim in ("M2's q(y|x) becomes uniform", "M2's cluster accuracy falls to the majority-class rate",
                  "Modified M2 clusters far better than M2", "GMVAE clusters best",
                  "M2 reaches the lowest variational loss", "Modified M2 has the highest variational loss"):
        assert verdicts[claim] == "not supported", claim


def test_missing_models_are_named_in_each_row_they_leave_undecided():
    table = claims.claims_table(run_log("gmvae", 0, 5, accuracy=RISING, entropy=RISING, loss=RISING))
    measured = dict(zip(table["claim"], zip(table["measured"], table["verdict"])))
    assert measured["M2's q(y|x) becomes uniform"] == ("no log of M2", "not reached")
    assert measured["Modified M2 clusters far better than M2"] == ("no log of M2, modified M2", "not reached")
    assert measured["GMVAE clusters best"] == ("no log of M2, modified M2", "not reached")
    assert measured["Modified M2 turns NaN after a few hundred epochs"] == ("no log of modified M2", "not reached")
    only_m2 = claims.claims_table(run_log("m2", 0, 5, accuracy=RISING, entropy=RISING, loss=RISING))
    assert dict(zip(only_m2["claim"], only_m2["measured"]))["Modified M2 clusters far better than M2"] == (
        "no log of modified M2")
    assert dict(zip(only_m2["claim"], only_m2["measured"]))["By epoch 1000, five of six GMVAE replicates are above "
                                                            "80 % accuracy"] == "no log of GMVAE"


def test_the_nan_row_counts_runs_in_the_plural():
    table = claims.claims_table(pd.concat([run_log("modified_m2", s, 30, accuracy=RISING, entropy=RISING,
                                                   loss=RISING) for s in (0, 1)]))
    assert dict(zip(table["claim"], table["measured"]))["Modified M2 turns NaN after a few hundred epochs"] == (
        "no NaN in 2 runs up to epoch 30")


def test_the_nan_profiles_runs_get_a_nan_row_each_where_they_have_logs():
    """Ours in float32: a run NaN at epoch 250 of three; the original's graph: no NaN in 2 runs to 300."""
    logs = pd.concat([
        run_log("modified_m2_float32", 0, 250, accuracy=RISING, entropy=RISING, loss=RISING, nan_epoch=250),
        *(run_log("modified_m2_float32", s, 300, accuracy=RISING, entropy=RISING, loss=RISING) for s in (1, 2)),
        *(run_log("modified_m2_original_graph", s, 300, accuracy=RISING, entropy=RISING, loss=RISING)
          for s in (0, 1)),
    ], ignore_index=True)
    rows = claims.claims_table(logs).set_index("claim")[["measured", "verdict"]]
    claim = "Modified M2 turns NaN after a few hundred epochs"
    assert rows.loc[f"{claim}, ours in float32"].tolist() == ["NaN at epoch 250 (1 of 3 runs)", "supported"]
    assert rows.loc[f"{claim}, the original's graph in float32"].tolist() == ["no NaN in 2 runs up to epoch 300",
                                                                                "not supported"]
    clipping = "Clipping the gradients would prevent the NaN"
    assert rows.loc[f"{clipping}, ours in float32"].tolist() == [
        "no log of ours in float32 with clipped gradients", "not reached"]  # a NaN, and no clipped run to test
    assert rows.loc[f"{clipping}, the original's graph in float32"].tolist() == [
        "unclipped: no NaN in 2 runs to epoch 300; no NaN to prevent, so none clipped",
        "not testable"]
    clipped = pd.concat([logs, *(run_log("modified_m2_float32_clip", s, 300, accuracy=RISING, entropy=RISING,
                                         loss=RISING) for s in (0, 1, 2))], ignore_index=True)
    rows = claims.claims_table(clipped).set_index("claim")[["measured", "verdict"]]
    assert rows.loc[f"{clipping}, ours in float32"].tolist() == [
        "unclipped: NaN at epoch 250 (1 of 3 runs); clipped: no NaN in 3 runs, shortest run 300 epochs", "supported"]
    without = claims.claims_table(run_log("modified_m2", 0, 5, accuracy=RISING, entropy=RISING, loss=RISING))
    assert not without["claim"].str.contains("float32").any()


@pytest.mark.parametrize("epochs, nan_epoch, verdict", [(300, None, "not testable"), (299, None, "not reached"),
                                                         (350, 350, "not reached")])
def test_without_clipped_runs_clipping_is_not_testable_once_every_run_reached_epoch_300_without_nan(
        epochs, nan_epoch, verdict):
    """The nan profile clips only the seeds that turn NaN: three float32 runs to 300 without one leave it nothing
    to clip; one of them a single epoch short could still turn NaN, and one that turned NaN past 300 needs its
    clipped run."""
    logs = pd.concat([run_log("modified_m2_float32", s, epochs if s == 0 else 300, accuracy=RISING, entropy=RISING,
                              loss=RISING, nan_epoch=nan_epoch if s == 0 else None) for s in (0, 1, 2)],
                     ignore_index=True)
    rows = claims.claims_table(logs).set_index("claim")
    assert rows.loc["Clipping the gradients would prevent the NaN, ours in float32", "verdict"] == verdict
