"""The open question's verdicts (notebook 05): "y used" (for the digit or not), "y unused" or "undecided",
at their thresholds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gmvae.reporting import claims


def run(run_name, information, accuracy, entropy=1.0, epochs=3, seed=0):
    e = np.arange(1, epochs + 1)
    return pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": e, "k": 10, "nan_epoch": np.nan,
                         "test_mutual_information": information, "test_accuracy": accuracy,
                         "test_entropy": entropy, "test_loss": 100.0})


def verdict(*frames):
    table = claims.open_question_table(pd.concat(frames, ignore_index=True))
    return dict(zip(table["claim"].str.removesuffix(": does x inform y?"), zip(table["measured"], table["verdict"])))


M2, M2_IAF, M2_ETA0 = (claims.OPEN_QUESTION_RUNS[r] for r in ("m2", "m2_iaf", "m2_eta0"))


@pytest.mark.parametrize("information, accuracy, expected", [
    (1.0001, 0.3001, "y used"),
    (1.0, 0.9, "undecided"),        # "above 1 nat": 1 itself is not
    (2.0, 0.3, "y used, not for the digit"),  # "accuracy above 0.3": 0.3 itself is not
    (0.0999, 0.9, "y unused"),
    (0.1, 0.1, "undecided"),        # "below 0.1 nat": 0.1 itself is not
    (0.0, 0.1135, "y unused"),
])
def test_thresholds_at_their_edges(information, accuracy, expected):
    measured, got = verdict(run("m2_iaf", information, accuracy))[M2_IAF]
    assert got == expected
    assert measured == f"I(x; y) {information:.3f} nats, accuracy {accuracy:.3f} (epoch 3, 1 run)"


def test_the_last_epoch_and_the_mean_over_seeds_decide():
    early_used = run("m2_eta0", information=[1.5, 1.5, 0.05], accuracy=0.5)
    measured, got = verdict(early_used)[M2_ETA0]
    assert got == "y unused" and measured.startswith("I(x; y) 0.050 nats")
    two_seeds = [run("m2_iaf", 0.08, 0.2, seed=0), run("m2_iaf", 0.14, 0.2, seed=1)]
    measured, got = verdict(*two_seeds)[M2_IAF]
    assert got == "undecided" and "I(x; y) 0.110 nats" in measured and "2 runs" in measured


def test_models_are_judged_at_the_last_epoch_all_of_them_reached():
    """M2 to epoch 6, using y only from epoch 4; the flow variant to 3: M2 is judged at 3, where y is unused."""
    m2 = run("m2", information=[0.0, 0.0, 0.0, 1.5, 1.5, 1.5], accuracy=0.5, epochs=6)
    assert verdict(m2)[M2] == ("I(x; y) 1.500 nats, accuracy 0.500 (epoch 6, 1 run)", "y used")
    assert verdict(m2, run("m2_iaf", 0.0, 0.1))[M2] == ("I(x; y) 0.000 nats, accuracy 0.500 (epoch 3, 1 run)",
                                                        "y unused")


def test_a_log_without_the_information_column_falls_back_on_its_bound():
    """Logs written before I(x; y) was logged: I <= ln K - H(y|x), which decides "unused" at H = ln 10."""
    uniform = run("m2", np.nan, 0.1135, entropy=2.3025)
    measured, got = verdict(uniform, run("m2_iaf", 0.0, 0.1))[M2]
    assert got == "y unused" and measured.startswith(f"I(x; y) <= ln K - H(y|x) = {math.log(10) - 2.3025:.3f}")
    confident = run("m2", np.nan, 0.6, entropy=0.5)
    assert verdict(confident, run("m2_iaf", 0.0, 0.1))[M2][1] == "undecided"


def test_a_bound_equal_to_the_unused_threshold_is_undecided(monkeypatch):
    """Only a bound below the threshold rules y unused: with the threshold set to the bound itself, undecided."""
    monkeypatch.setattr(claims, "Y_UNUSED_INFORMATION_MAX", math.log(10) - 2.2)
    assert verdict(run("m2", np.nan, 0.1135, entropy=2.2), run("m2_iaf", 0.0, 0.1))[M2][1] == "undecided"


def test_rows_only_for_models_with_logs_and_only_beside_a_variant_in_the_claims_table():
    assert list(verdict(run("m2_iaf", 0.0, 0.1))) == [M2_IAF]
    none = claims.open_question_table(run("gmvae", 0.0, 0.1))
    assert none.empty and list(none.columns) == claims.CLAIM_COLUMNS
    plain = claims.claims_table(run("m2", 0.0, 0.1135))
    assert not plain["section"].str.startswith("5").any()
    both = claims.claims_table(pd.concat([run("m2", 0.0, 0.1135), run("m2_eta0", 0.0, 0.1135)]))
    assert both["section"].str.startswith("5").sum() == 2


def test_the_bound_uses_the_runs_own_k_and_says_how_many_runs():
    """K = 4 for this M2 (ln 4 = 1.386), K = 10 for the variant logged before it; one epoch, then two seeds."""
    def m2(entropy, seed, epochs):
        log = run("m2", np.nan, 0.2, entropy=entropy, seed=seed, epochs=epochs)
        log["k"] = 4
        return log

    measured, got = verdict(run("m2_iaf", 0.0, 0.1), m2(1.3, 0, epochs=1))[M2]
    assert got == "y unused" and measured == f"I(x; y) <= ln K - H(y|x) = {math.log(4) - 1.3:.3f} nats (epoch 1, 1 run)"
    measured, got = verdict(run("m2_iaf", 0.0, 0.1), m2(1.2, 0, epochs=3), m2(1.1, 1, epochs=3))[M2]
    assert got == "undecided" and measured == f"I(x; y) <= ln K - H(y|x) = {math.log(4) - 1.15:.3f} nats (epoch 3, 2 runs)"


def test_a_run_without_one_finite_epoch_is_not_reached_and_every_row_has_the_claims_columns():
    table = claims.open_question_table(run("m2_eta0", np.nan, np.nan, entropy=np.nan))
    assert list(table.columns) == claims.CLAIM_COLUMNS
    assert table.iloc[0].to_dict() == {"section": "5 open question", "claim": f"{M2_ETA0}: does x inform y?",
                                       "rule": claims.Y_USAGE_RULE, "measured": "no log of m2_eta0",
                                       "verdict": "not reached"}
