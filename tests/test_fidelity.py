"""The fidelity table and the claims against the original, on made-up logs whose answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats

from gmvae.reporting import claims, fidelity
from made_up_logs import linear, run_log


def hundredths(e):
    """0.01 an epoch: a value read at another epoch is another number."""
    return 0.01 * e


@pytest.fixture
def case():
    """The original: GMVAE runs with accuracy 0.500 and 0.600, loss 1.00e+02 and 1.03e+02, and a third
    in between that stops at epoch 5. Ours: seed 0 just inside each widened edge, seed 1 just outside."""
    theirs = pd.concat([
        run_log("gmvae", 0, 12, accuracy=0.5, entropy=0.2, loss=100.0, source="original"),
        run_log("gmvae", 1, 12, accuracy=0.6, entropy=0.3, loss=103.0, source="original"),
        run_log("gmvae", 2, 5, accuracy=0.55, entropy=0.25, loss=101.0, source="original"),
    ])
    ours = pd.concat([
        run_log("gmvae", 0, 10, accuracy=0.6004, entropy=0.25, loss=99.6),
        run_log("gmvae", 1, 10, accuracy=0.6006, entropy=0.25, loss=linear(99.4, 0.01)),
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
    extra = run_log("m2_iaf", 0, 10, accuracy=0.1, entropy=2.3, loss=90.0)
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
    modified = run_log("modified_m2", 0, 300, accuracy=0.6, entropy=0.1, loss=97.0, source="original")
    modified["nan_epoch"] = 228.0
    table = claims.claims_table(ours, pd.concat([theirs, modified]))
    verdicts = dict(zip(table["claim"], table["verdict"]))
    measured = dict(zip(table["claim"], table["measured"]))
    assert verdicts["Our GMVAE lies inside the original's range at the last epoch both logged"] == "not supported"
    assert "seed 1" in measured["Our GMVAE lies inside the original's range at the last epoch both logged"]
    assert "seed 0" not in measured["Our GMVAE lies inside the original's range at the last epoch both logged"]
    assert (measured["Our M2 lies inside the original's range at the last epoch both logged"],
            verdicts["Our M2 lies inside the original's range at the last epoch both logged"]) == (
        "no epoch that both ours and the original logged", "not reached")
    nan_claim = "Modified M2 turns NaN after a few hundred epochs, in the original's logs"
    assert (measured[nan_claim], verdicts[nan_claim]) == ("NaN at epoch 228 (1 of 1 runs)", "supported")
    inside = ours[ours["seed"] == 0]
    verdicts = dict(zip(*claims.claims_table(inside, theirs)[["claim", "verdict"]].T.values))
    assert verdicts["Our GMVAE lies inside the original's range at the last epoch both logged"] == "supported"


def test_claims_without_the_original_keep_the_post_claims_only(case):
    assert len(claims.claims_table(case[0])) == 9
    assert len(claims.claims_table(case[0], case[1])) == 15


def test_models_come_in_the_posts_order_whatever_order_the_logs_were_read_in(case):
    ours, theirs = case
    m2 = run_log("m2", 0, 10, accuracy=0.11, entropy=2.3, loss=95.0)
    m2_theirs = run_log("m2", 0, 10, accuracy=0.11, entropy=2.3, loss=95.0, source="original")
    table = fidelity.fidelity_table(pd.concat([ours, m2]), pd.concat([theirs, m2_theirs]))
    assert list(dict.fromkeys(table["run_name"])) == ["m2", "gmvae"]


# ---- fidelity as distributions: Welch's test and the TOST against values worked by hand, the rule's error rates ----

# ours 1, 2, 3, 4 (mean 2.5, variance 5/3) against the original's 5, 7, 9 (mean 7, variance 4): unequal counts and
# spreads, so Welch's test and the pooled-variance one differ in t, df and p
OURS, ORIGINAL = np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 7.0, 9.0])


def welch_parts(variance_a, n_a, variance_b, n_b):
    """(standard error, Welch-Satterthwaite df) by the textbook formulas."""
    va, vb = variance_a / n_a, variance_b / n_b
    return np.sqrt(va + vb), (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1))


def welch_by_hand(a, b):
    """(difference, standard error, t, Welch-Satterthwaite df) of two samples."""
    se, df = welch_parts(np.var(a, ddof=1), len(a), np.var(b, ddof=1), len(b))
    difference = np.mean(a) - np.mean(b)
    return difference, se, difference / se, df


def upper_tail(t, df):
    """P(T > t) for Student's t with df degrees of freedom, through the regularised incomplete beta function."""
    tail = 0.5 * scipy.special.betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t > 0 else 1 - tail


def test_welchs_t_df_p_and_interval_against_the_textbook_formulas():
    """Standard error sqrt(5/12 + 4/3) = sqrt(1.75) = 1.3229, t = -4.5 / 1.3229 = -3.4017, df = 1.75^2 /
    ((5/12)^2 / 3 + (4/3)^2 / 2) = 3.2347, two-sided p = 0.0378 (the pooled-variance test: t = -3.654, df 5,
    p = 0.015)."""
    difference, se, t, df = welch_by_hand(OURS, ORIGINAL)
    assert (se, t, df) == pytest.approx((np.sqrt(1.75), -3.4017, 3.2347), abs=1e-4)
    r = fidelity.welch_verdict(OURS, ORIGINAL, margin=1.0)
    assert r["welch_df"] == pytest.approx(df) and r["standard_error"] == pytest.approx(se)
    assert r["welch_p"] == pytest.approx(2 * upper_tail(-t, df)) == pytest.approx(0.0378, abs=1e-4)
    half_width = scipy.stats.t.isf(0.025, df) * se
    assert (r["ci95_low"], r["ci95_high"]) == pytest.approx((difference - half_width, difference + half_width))
    assert r["verdict"] == "different"  # p < 0.05, and the difference, -4.5, is far outside +-1


@pytest.mark.parametrize("margin, tost_p, verdict", [
    (6.0, 0.1669, "different"),     # |difference| 4.5 is inside 6, but not by enough: not shown equivalent
    (10.0, 0.0109, "equivalent"),   # shown equivalent, though also significantly different: equivalent first
])
def test_the_tost_p_is_the_larger_one_sided_p_against_each_edge_of_the_margin(margin, tost_p, verdict):
    """H0 "difference <= -margin": t = (-4.5 + margin) / 1.3229, upper tail; H0 "difference >= +margin":
    t = (-4.5 - margin) / 1.3229, lower tail (tiny here). The TOST p is the larger."""
    difference, se, _, df = welch_by_hand(OURS, ORIGINAL)
    by_hand = max(upper_tail((difference + margin) / se, df), upper_tail(-(difference - margin) / se, df))
    r = fidelity.welch_verdict(OURS, ORIGINAL, margin)
    assert r["tost_p"] == pytest.approx(by_hand) == pytest.approx(tost_p, abs=1e-4)
    assert r["verdict"] == verdict


def test_the_tost_tests_both_edges():
    """The mirror image of the samples, original minus ours, has the same TOST p: the edge near the difference
    decides, on whichever side it is."""
    for margin in (6.0, 10.0):
        assert (fidelity.welch_verdict(ORIGINAL, OURS, margin)["tost_p"]
                == pytest.approx(fidelity.welch_verdict(OURS, ORIGINAL, margin)["tost_p"]))
    assert fidelity.welch_verdict(ORIGINAL, OURS, 6.0)["tost_p"] == pytest.approx(0.1669, abs=1e-4)


def test_a_difference_equal_to_the_margin_has_a_tost_p_of_one_half():
    """At the edge, the near one-sided test has t = 0: p = 0.5 whatever the spread, so never equivalent."""
    r = fidelity.welch_verdict(OURS, ORIGINAL, margin=4.5)
    assert r["tost_p"] == pytest.approx(0.5) and r["verdict"] == "different"


@pytest.mark.parametrize("welch_p, tost_p, beyond_rounding, verdict", [
    (0.049, 0.5, True, "different"), (0.05, 0.5, True, "undecided"),   # 5 % itself is not below 5 %
    (0.001, 0.5, False, "undecided"),                                  # significant, but within the rounding
    (0.5, 0.049, False, "equivalent"), (0.5, 0.05, False, "undecided"),
    (0.001, 0.001, True, "equivalent"),                                # inside the margin, shown both ways
    (np.nan, np.nan, False, "undecided"), (0.01, np.nan, True, "different"),
])
def test_the_verdict_at_each_threshold(welch_p, tost_p, beyond_rounding, verdict):
    assert fidelity.verdict_of(welch_p, tost_p, beyond_rounding) == verdict


# ---- the original's rounding: ours at full precision against the original's logged 1.14e-01 (0.1135 to 0.1145) ----

ROUNDED = [0.114] * 3  # half a logged unit at its mean: 0.0005, and no spread, so the margin is 0.0005 too


@pytest.mark.filterwarnings("error")  # no division by zero, no "catastrophic cancellation" from SciPy
@pytest.mark.parametrize("ours, difference, welch_p, tost_p, verdict", [
    # 0.1135 - 0.114 = -0.0005 (in floating point -0.0005 - 4e-19): exactly half a unit, which the rounding alone
    # can make, so not different; on the edge of the margin, where t = 0 at any spread gives 1/2: not equivalent
    (0.1135, -0.0005, 0.0, 0.5, "undecided"),
    (0.1137, -0.0003, 0.0, 0.0, "equivalent"),    # inside +-0.0005 with no spread: both one-sided tests reject
    (0.1134, -0.0006, 0.0, 1.0, "different"),     # beyond half a unit (within a whole one): resolved
    (0.1146, +0.0006, 0.0, 1.0, "different"),     # and on the other side
    (0.114, 0.0, 1.0, 0.0, "equivalent"),         # the same value: t = 0, Welch's p 1
])
def test_with_no_spread_on_either_side_the_tests_take_their_limits(ours, difference, welch_p, tost_p, verdict):
    """Four runs of ours at one value against the original's three at 0.114: the difference of means is known
    exactly (standard error 0, the Welch-Satterthwaite df 0 / 0, NaN), the 95 % interval is the difference alone,
    and each p is its limit as the spread goes to 0 at this difference: Welch's 0 (1 for no difference), the
    TOST's 0 inside +-margin, 1/2 on its edge, 1 beyond it. The smallest difference the rule would find is the half
    unit itself (any larger one is found)."""
    r = fidelity.compare_samples([ours] * 4, ROUNDED)
    assert (r["ours_sd"], r["original_sd"], r["margin"], r["resolution"]) == (0.0, 0.0, 0.0005, 0.0005)
    assert r["difference"] == pytest.approx(difference, abs=1e-15) and np.isnan(r["welch_df"])
    assert r["ci95_low"] == r["ci95_high"] == r["difference"]
    assert (r["welch_p"], r["tost_p"], r["verdict"]) == (welch_p, tost_p, verdict)
    assert r["detectable_difference"] == 0.0005


@pytest.mark.filterwarnings("error")
def test_a_sample_of_one_value_has_that_value_as_mean_and_no_spread_whatever_summing_leaves():
    """Three runs at 0.7 sum to 2.1000000000000001 in floating point, a mean off 0.7 and a variance of 2e-32, not
    0: taken as they are, the standard error would be 8e-17 and the tests would divide noise by noise. A sample of
    one value is 0.7 without spread, so 0.6995 four times against it is half a unit off, exactly on the edge."""
    assert np.mean([0.7] * 3) != 0.7 and np.var([0.7] * 3, ddof=1) > 0
    r = fidelity.compare_samples([0.6995] * 4, [0.7] * 3)
    assert (r["original_mean"], r["original_sd"], r["margin"], r["resolution"]) == (0.7, 0.0, 0.0005, 0.0005)
    assert np.isnan(r["welch_df"]) and r["ci95_low"] == r["ci95_high"] == r["difference"]
    assert (r["welch_p"], r["tost_p"], r["verdict"]) == (0.0, 0.5, "undecided")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("ours, verdict", [
    # mean 0.11355, sd 0.0001: difference -0.00045 within half a unit, though Welch's p is 0.003
    ([0.1135, 0.1135, 0.1135, 0.1137], "undecided"),
    # mean 0.1134, sd 0.0002: difference -0.0006, beyond half a unit, Welch's p 0.009, but its interval
    # -0.0006 +- 3.1824 x 0.0001 = [-0.00092, -0.00028] reaches into +-0.0005: the rounding could make it
    ([0.1133, 0.1133, 0.1133, 0.1137], "undecided"),
    # mean 0.1130: difference -0.001, interval [-0.00132, -0.00068] wholly below -0.0005
    ([0.1129, 0.1129, 0.1129, 0.1133], "different"),
])
def test_against_a_constant_original_the_interval_must_clear_half_a_unit(ours, verdict):
    """The original's 0.114 four times: the standard error is ours alone, sd / 2, with 3 degrees of freedom
    (t_0.975 = 3.1824). "different" needs the whole 95 % interval beyond +-0.0005, not only the difference."""
    r = fidelity.compare_samples(ours, [0.114] * 4)
    sd = np.std(ours, ddof=1)
    assert r["welch_df"] == pytest.approx(3.0) and r["original_sd"] == 0.0
    half_width = scipy.stats.t.isf(0.025, 3) * sd / 2
    assert (r["ci95_low"], r["ci95_high"]) == pytest.approx((r["difference"] - half_width, r["difference"] + half_width))
    assert r["welch_p"] < 0.01 and r["verdict"] == verdict


def test_the_half_unit_is_taken_at_the_originals_mean():
    """0.0995 and 0.101 (mean 0.10025, logged digit 0.001): 0.0005, though 0.0995's own digit is 0.0001; losses
    at 94.3 give 0.05."""
    assert fidelity.rounding_resolution([0.0995, 0.101]) == pytest.approx(0.0005)
    assert fidelity.rounding_resolution([[94.3, 94.4], [0.0995, 0.0997]]) == pytest.approx([0.05, 0.00005])
    assert fidelity.equivalence_margin([0.0995, 0.101]) == pytest.approx(np.std([0.0995, 0.101], ddof=1))
    assert fidelity.equivalence_margin([0.114, 0.114]) == 0.0005 and fidelity.equivalence_margin([0.114]) == 0.0005


def test_the_margin_is_the_originals_spread_when_that_is_wider_than_half_a_logged_unit():
    """Original 0.70 and 0.80: sd 0.0707, far above half a logged unit (0.0005). Ours 0.75 twice: standard error
    0.0707 / sqrt(2) = 0.05 and one degree of freedom, where Student's t is Cauchy: TOST p = 1/2 - atan(0.0707 /
    0.05) / pi = 1/2 - atan(sqrt 2) / pi = 0.196, so a difference of 0 is not shown equivalent by two runs a side."""
    r = fidelity.compare_samples([0.75, 0.75], [0.70, 0.80])
    assert r["margin"] == r["original_sd"] == pytest.approx(0.1 / np.sqrt(2)) and r["ours_sd"] == 0.0
    assert (r["difference"], r["welch_df"]) == (0.0, pytest.approx(1.0))
    assert r["tost_p"] == pytest.approx(0.5 - np.arctan(np.sqrt(2)) / np.pi) == pytest.approx(0.196, abs=1e-3)
    assert (r["welch_p"], r["verdict"]) == (pytest.approx(1.0), "undecided")


def test_the_detectable_difference_has_80_percent_power_under_the_noncentral_t():
    """Checked by drawing the noncentral t itself, (Z + delta / se) / sqrt(chi2_df / df), and against the normal
    limit (z_0.975 + z_0.8) x se = 2.8016 x se at a large df."""
    _, se, _, df = welch_by_hand(OURS, ORIGINAL)
    delta = fidelity.detectable_difference(se, df)
    rng = np.random.default_rng(0)
    t = (rng.standard_normal(400_000) + delta / se) / np.sqrt(rng.chisquare(df, 400_000) / df)
    assert np.mean(np.abs(t) > scipy.stats.t.isf(0.025, df)) == pytest.approx(0.80, abs=0.003)
    assert fidelity.detectable_difference(1.0, 1e7) == pytest.approx(2.8016, abs=1e-4)
    assert fidelity.detectable_difference(0.5, 1e7) == pytest.approx(2.8016 / 2, abs=1e-4)


def test_the_distribution_table_carries_the_detectable_difference_of_its_own_counts_and_spreads():
    r = fidelity.compare_samples(OURS, ORIGINAL)
    _, se, _, df = welch_by_hand(OURS, ORIGINAL)
    # half a unit of the original's mean, 7.00e+00: 0.005
    assert r["detectable_difference"] == pytest.approx(fidelity.detectable_difference(se, df, 0.005))
    assert r["detectable_difference"] > abs(r["difference"])  # -4.5: significant here, but below the 80 % mark


def test_the_detectable_difference_starts_at_the_half_unit():
    """The rule needs the interval beyond +-half a unit, so what it detects is that much further out; with no
    spread, the half unit itself."""
    _, se, _, df = welch_by_hand(OURS, ORIGINAL)
    assert fidelity.detectable_difference(se, df, 0.005) == pytest.approx(0.005 + fidelity.detectable_difference(se, df))
    assert fidelity.detectable_difference(0.0, np.nan, 0.0005) == 0.0005


DRAWS = 4000


def verdict_shares(rng, n_ours, n_original, sd_original, true_difference, margin):
    """Shares of "different" and "equivalent" over DRAWS pairs of normal samples (ours sd 1, mean
    ``true_difference``; the original's mean 0), judged by the rule against a fixed ``margin``."""
    ours = rng.normal(true_difference, 1.0, (DRAWS, n_ours))
    original = rng.normal(0.0, sd_original, (DRAWS, n_original))
    verdicts = fidelity.welch_verdict(ours, original, margin)["verdict"]
    return np.mean(verdicts == "different"), np.mean(verdicts == "equivalent")


COUNTS = [(3, 3), (4, 3), (6, 6)]  # ours v the original's, as in this study
SPREADS = [1.0, 2.0]               # the original's sd, ours 1: pooling the variances fails where they differ


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_the_rules_false_different_rate_at_equal_means_is_at_most_6_5_percent(n_ours, n_original):
    for sd_original in SPREADS:
        different, _ = verdict_shares(np.random.default_rng(1), n_ours, n_original, sd_original, 0.0, sd_original)
        print(f"\n{n_ours} v {n_original}, sds 1 and {sd_original:g}, equal means: different {different:.2%}")
        assert different <= 0.065, sd_original


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_the_rules_false_equivalent_rate_at_a_difference_equal_to_the_margin_is_at_most_6_5_percent(
        n_ours, n_original):
    """The rule's margin is the original's sd; at ten times that, only the near one-sided test decides and the
    TOST is at its most liberal. Both signs: each edge of the margin is tested."""
    for sd_original, margin_in_sds, sign in itertools.product(SPREADS, (1, 10), (1, -1)):
        margin = margin_in_sds * sd_original
        _, equivalent = verdict_shares(np.random.default_rng(2), n_ours, n_original, sd_original, sign * margin,
                                       margin)
        print(f"\n{n_ours} v {n_original}, sds 1 and {sd_original:g}, difference {sign * margin:+g} = margin: "
              f"equivalent {equivalent:.2%}")
        assert equivalent <= 0.065, (sd_original, margin, sign)


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_at_the_detectable_difference_the_rule_finds_a_difference_in_about_80_percent_of_draws(n_ours, n_original):
    """Somewhat below 80 %: the test estimates the standard error and df that the detectable difference takes
    as known (here the population's, sd 1 a side)."""
    delta = fidelity.detectable_difference(*welch_parts(1.0, n_ours, 1.0, n_original))
    different, _ = verdict_shares(np.random.default_rng(3), n_ours, n_original, 1.0, delta, margin=0.01)
    print(f"\n{n_ours} v {n_original}, sds 1: difference {delta:.2f} found in {different:.2%}")
    assert 0.65 <= different <= 0.85


def logged(values):
    """``values`` as the original logged them, with {:10.2e}: three significant digits (0.11352 -> 0.114)."""
    return np.vectorize(lambda v: float(f"{v:.2e}"), otypes=[float])(values)


HALF_UNIT = 0.0005  # of a value near 0.11, logged as 1.13e-01 or 1.14e-01
# means: inside a logged unit and on the edge between two (0.1135 rounds to 0.114, 0.11349 to 0.113); spreads,
# ours and the original's: a tenth to three tenths of the logged unit 0.001, so that the original's runs often
# log one value, and its logged mean can be off by up to half a unit
ROUNDED_MEANS = [0.1132, 0.1135, 0.1138]
ROUNDED_SPREADS = [(0.0001, 0.0001), (0.0003, 0.0003), (0.0001, 0.0003), (0.0003, 0.0001)]


def rounded_verdicts(rng, n_ours, n_original, mean, sd_ours, sd_original, true_difference):
    """Verdicts over DRAWS pairs: ours normal at ``mean + true_difference`` at full precision, the original's
    normal at ``mean`` and logged to three significant digits, each pair judged with the margin the rule sets
    from the original's logged values (their sd, at least half a unit)."""
    ours = rng.normal(mean + true_difference, sd_ours, (DRAWS, n_ours))
    original = logged(rng.normal(mean, sd_original, (DRAWS, n_original)))
    return fidelity.welch_verdict(ours, original, fidelity.equivalence_margin(original))["verdict"]


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_on_rounded_logs_the_false_different_rate_at_equal_means_is_at_most_6_5_percent(n_ours, n_original):
    """Welch's test alone calls up to 97 % of these pairs "different" (the original's runs near 0.1138 all log
    0.114, with no spread, 0.0002 off; near 0.1135 they log 0.113 or 0.114, up to half a unit off); the rule asks
    the interval to clear half a unit."""
    for mean, (sd_ours, sd_original) in itertools.product(ROUNDED_MEANS, ROUNDED_SPREADS):
        verdicts = rounded_verdicts(np.random.default_rng(4), n_ours, n_original, mean, sd_ours, sd_original, 0.0)
        different = np.mean(verdicts == "different")
        print(f"\n{n_ours} v {n_original} rounded, mean {mean}, sds {sd_ours:g} and {sd_original:g}, equal means: "
              f"different {different:.2%}")
        assert different <= 0.065, (mean, sd_ours, sd_original)


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_on_rounded_logs_the_false_equivalent_rate_beyond_the_margin_and_half_a_unit_is_at_most_6_5_percent(
        n_ours, n_original):
    """The original's logged mean can be off its runs' mean by up to half a unit, so a true difference up to the
    margin plus half a unit can look as if it were within the margin (at a true difference equal to the margin,
    up to 99 % of these pairs are "equivalent": ours at 0.1127 against the original's 0.1132, logged 0.113):
    "equivalent" means equal up to the margin and the original's rounding. From the margin plus half a unit on
    (the margin being the original's sd, at least half a unit), the rule's error rate is bounded again; both
    signs."""
    for mean, (sd_ours, sd_original), sign in itertools.product(ROUNDED_MEANS, ROUNDED_SPREADS, (1, -1)):
        difference = sign * (max(sd_original, HALF_UNIT) + HALF_UNIT)
        verdicts = rounded_verdicts(np.random.default_rng(5), n_ours, n_original, mean, sd_ours, sd_original,
                                    difference)
        equivalent = np.mean(verdicts == "equivalent")
        print(f"\n{n_ours} v {n_original} rounded, mean {mean}, sds {sd_ours:g} and {sd_original:g}, difference "
              f"{difference:+g}: equivalent {equivalent:.2%}")
        assert equivalent <= 0.065, (mean, sd_ours, sd_original, sign)


@pytest.mark.parametrize("n_ours, n_original", COUNTS)
def test_at_the_detectable_difference_beyond_half_a_unit_the_rule_finds_a_difference_in_about_80_percent(
        n_ours, n_original):
    """Near 0.11, with sds of a tenth of the logged unit a side (unrounded, so that only the rule's half unit,
    0.0005, is at work): the detectable difference is that half unit and then Welch's, and the rule finds it in
    about as many pairs as Welch's test finds its own."""
    se, df = welch_parts(0.0001 ** 2, n_ours, 0.0001 ** 2, n_original)
    delta = fidelity.detectable_difference(se, df, HALF_UNIT)
    rng = np.random.default_rng(6)
    ours, original = rng.normal(0.11 + delta, 0.0001, (DRAWS, n_ours)), rng.normal(0.11, 0.0001, (DRAWS, n_original))
    different = np.mean(fidelity.welch_verdict(ours, original, 0.0001)["verdict"] == "different")
    print(f"\n{n_ours} v {n_original}, sds 0.0001 near 0.11: difference {delta:.5f} found in {different:.2%}")
    assert 0.65 <= different <= 0.85


def test_the_permutation_p_value_is_the_exact_one_for_small_samples():
    """1, 2, 3 against 4, 5, 6: of the 20 ways to split the six values in two groups of three, only this one
    and its mirror have a difference of means as large as 3: p = 2 / 20."""
    assert fidelity.compare_samples([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])["permutation_p"] == pytest.approx(0.1)


@pytest.mark.filterwarnings("error")  # no spread computed from one value: no "degrees of freedom" warning either
def test_one_run_a_side_gives_no_interval_and_is_undecided():
    r = fidelity.compare_samples([0.9], [0.5, 0.6, 0.7])
    assert r["verdict"] == "undecided" and np.isnan(r["ours_sd"]) and r["original_sd"] == pytest.approx(0.1)
    assert all(np.isnan(r[key]) for key in ("ci95_low", "ci95_high", "welch_df", "welch_p", "tost_p",
                                            "permutation_p", "detectable_difference"))
    assert (r["ours_n"], r["original_n"], r["difference"]) == (1, 3, pytest.approx(0.3))
    alone = fidelity.compare_samples([0.5, 0.7], [0.289])
    assert np.isnan(alone["original_sd"]) and alone["ours_sd"] == pytest.approx(0.1 * np.sqrt(2))
    # one original run has no spread: the margin is half a unit of its logged 2.89e-01
    assert alone["margin"] == pytest.approx(0.0005) and alone["verdict"] == "undecided"


def test_a_row_of_one_run_shows_dashes_where_there_is_no_spread_interval_or_p():
    row = pd.DataFrame([{"run_name": "gmvae", "metric": "accuracy", "epoch": 200,
                         **fidelity.compare_samples([0.8123], [0.75, 0.80, 0.85]), "low": 0.7495, "high": 0.8505,
                         "inside": True}])
    md = fidelity.distribution_markdown_table(row).iloc[0]
    assert md["ours mean ± sd (n)"] == "0.8123 ± - (1)"
    assert md["original mean ± sd (n)"] == "0.8000 ± 0.0500 (3)"
    assert [md[c] for c in ("95 % interval (Welch)", "p (Welch)", "p (TOST)", "p (permutation)",
                            "detectable (80 %)")] == ["-"] * 5
    assert (md["difference"], md["verdict"], md["all ours inside"]) == ("+0.0123", "undecided", "yes")


def test_a_row_prints_each_p_to_three_decimals_and_a_smaller_one_as_below_0_001():
    """The margin is the original's sd, 2: the TOST p is the upper tail of (-4.5 + 2) / 1.3229 = -1.890."""
    assert upper_tail(-2.5 / np.sqrt(1.75), welch_by_hand(OURS, ORIGINAL)[3]) == pytest.approx(0.926, abs=5e-4)
    row = pd.DataFrame([{"run_name": "gmvae", "metric": "loss", "epoch": 200,
                         **fidelity.compare_samples(OURS, ORIGINAL), "low": 4.5, "high": 9.5, "inside": False}])
    md = fidelity.distribution_markdown_table(row).iloc[0]
    assert (md["95 % interval (Welch)"], md["p (Welch)"], md["p (TOST)"]) == ("[-8.54, -0.46]", "0.038", "0.926")
    detectable = fidelity.detectable_difference(*welch_by_hand(OURS, ORIGINAL)[1::2], 0.005)
    assert (md["detectable (80 %)"], md["half unit"]) == (f"{detectable:.2f}", "0.01")  # loss: to 0.01
    row["welch_p"] = 0.00099
    assert fidelity.distribution_markdown_table(row).iloc[0]["p (Welch)"] == "< 0.001"


def test_the_p_value_of_samples_too_large_for_every_split_repeats():
    """10 against 10 values have 184,756 splits, more than the 9,999 permutations drawn: the p-value is
    estimated from random permutations, and the fixed seed makes it the same on every call."""
    rng = np.random.default_rng(1)
    ours, original = rng.normal(0.0, 1.0, 10), rng.normal(0.5, 1.0, 10)
    first, second = (fidelity.compare_samples(ours, original) for _ in range(2))
    assert first["permutation_p"] == second["permutation_p"]


def test_the_distribution_table_takes_each_epochs_own_values():
    """Values that grow with the epoch (and differ by seed): a row of the wrong epoch has the wrong mean."""
    ours = pd.concat([run_log("gmvae", s, 200, accuracy=linear(0.01 * s, 0.001), entropy=0.2, loss=95.0)
                      for s in range(3)])
    theirs = pd.concat([run_log("gmvae", s, 160, accuracy=linear(0.02 * s, 0.001), entropy=0.2, loss=95.0,
                                source="original") for s in range(4)])
    table = fidelity.distribution_table(ours, theirs)
    accuracy = table[table["metric"] == "accuracy"].set_index("epoch")
    assert list(accuracy.index) == [50, 100, 150]  # the original reaches 160, so no 200
    for epoch in (50, 100, 150):
        assert accuracy.loc[epoch, "ours_mean"] == pytest.approx(epoch / 1000 + 0.01)
        assert accuracy.loc[epoch, "original_mean"] == pytest.approx(epoch / 1000 + 0.03)
        assert accuracy.loc[epoch, "original_max"] == pytest.approx(epoch / 1000 + 0.06)
    assert list(accuracy["ours_n"]) == [3] * 3 and list(accuracy["original_n"]) == [4] * 3


# ---- claims at the horizon ----

def modified_runs(name, nan_epochs, epochs):
    """One run per entry of ``nan_epochs``: to that NaN epoch, or to ``epochs`` where it is None."""
    return pd.concat([run_log(name, seed, epochs if nan_epoch is None else nan_epoch, accuracy=0.6, entropy=0.1,
                              loss=97.0, nan_epoch=nan_epoch) for seed, nan_epoch in enumerate(nan_epochs)])


def claim_row(df, claim, original=None):
    table = claims.claims_table(df, original)
    found = table[table["claim"] == claim]
    assert len(found) == 1, claim
    return found.iloc[0]["measured"], found.iloc[0]["verdict"]


CLIPPING = "Clipping the gradients would prevent the NaN"
SAME_SHARE = "Our GMVAE replicates are above 80 % as often as the original's at the same epoch"


@pytest.mark.parametrize("unclipped, clipped, epochs, verdict", [
    ((230, None), (None, None), 300, "supported"),
    ((230, None), (None, None), 299, "not reached"),       # a clipped run one epoch short of the test
    ((None, None), (None, None), 300, "not testable"),     # nothing to prevent
    ((None, None), (None, None), 299, "not reached"),      # a clipped run short: it might still turn NaN
    ((230, None), (None, 280), 300, "not supported"),
])
def test_the_clipping_conjecture(unclipped, clipped, epochs, verdict):
    df = pd.concat([modified_runs("modified_m2", unclipped, 300), modified_runs("modified_m2_clip", clipped, epochs)])
    assert claim_row(df, CLIPPING)[1] == verdict


def test_the_clipping_conjecture_with_unclipped_runs_short_of_the_test_is_not_reached():
    df = pd.concat([modified_runs("modified_m2", (None,), 299), modified_runs("modified_m2_clip", (None,), 300)])
    assert claim_row(df, CLIPPING)[1] == "not reached"


def test_the_clipping_conjecture_without_clipped_runs_is_not_reached():
    assert claim_row(modified_runs("modified_m2", (230,), 300), CLIPPING) == (
        "no log of modified M2 with clipped gradients", "not reached")


def gmvae_runs(final_accuracies, epochs, source="ours"):
    """GMVAE replicates whose accuracy rises linearly to its final value at ``epochs``."""
    return pd.concat([run_log("gmvae", s, epochs, accuracy=lambda e, a=a: a * e / epochs, entropy=0.1, loss=95.0,
                              source=source) for s, a in enumerate(final_accuracies)])


FIVE_OF_SIX = "By epoch 1000, five of six GMVAE replicates are above 80 % accuracy"


def test_five_of_six_above_80_percent_at_epoch_1000_and_the_edge_of_80():
    assert claim_row(gmvae_runs([0.81] * 5 + [0.5], 1000), FIVE_OF_SIX) == (
        "5 of 6 above 0.80 at epoch 1000", "supported")
    # exactly 0.80 is not above it
    assert claim_row(gmvae_runs([0.81] * 4 + [0.80, 0.5], 1000), FIVE_OF_SIX) == (
        "4 of 6 above 0.80 at epoch 1000", "not supported")
    assert claim_row(gmvae_runs([0.9] * 6, 200), FIVE_OF_SIX) == ("6 of 6 above 0.80 at epoch 200", "not reached")


def test_five_of_six_counts_at_the_last_epoch_every_replicate_reached():
    """Seed 1 stops at 170: the count is taken there, where the rising accuracies are 1.0 * 170 / 200 = 0.85 and
    0.9 * 170 / 200 = 0.765 (at 200 only seed 0 would count, at 169 neither)."""
    runs = gmvae_runs([1.0, 0.9], 200)
    runs = runs[(runs["seed"] == 0) | (runs["epoch"] <= 170)]
    assert claim_row(runs, FIVE_OF_SIX)[0] == "1 of 2 above 0.80 at epoch 170"


def test_five_of_six_in_the_originals_own_logs():
    """The shipped logs: 5 of the 6 GMVAE logs that reach epoch 500 end above 0.80; at 200, 3 of 6."""
    from gmvae.reporting.original import load_original_logs

    measured, verdict = claim_row(gmvae_runs([0.5], 10), f"{FIVE_OF_SIX}, in the original's logs",
                                  load_original_logs(["gmvae"]))
    assert measured == "last logged epoch (516-1000): 5 of 6 above 0.80; epoch 200: 3 of 6; epoch 500: 5 of 6"
    assert verdict == "supported"


def test_the_share_above_80_percent_against_the_originals_by_fishers_exact_test():
    """3 of 3 above against 0 of 4: the observed table is the least likely of the four with these margins
    (probability 1/35 = 0.0286), so p = 0.029 and the shares differ; against 2 of 4, p = 0.43."""
    ours = gmvae_runs([0.9] * 3, 200)
    measured, verdict = claim_row(ours, SAME_SHARE, gmvae_runs([0.7] * 4, 200, "original"))
    assert (measured, verdict) == ("epoch 200: ours 3 of 3, the original's 0 of 4 above 0.80; Fisher p = 0.029",
                                   "different")
    assert claim_row(ours, SAME_SHARE, gmvae_runs([0.7, 0.7, 0.9, 0.9], 200, "original"))[1] == "consistent"


def test_a_share_whose_fisher_p_equals_the_threshold_is_consistent(monkeypatch):
    """p = 1/35 from 3 of 3 against 0 of 4 (above): with the threshold set to that very p (as SciPy computes it, a
    few ulps from 1/35), the shares are not called different, since only a p below the threshold is."""
    table = [[3, 0], [0, 4]]
    monkeypatch.setattr(claims, "SAME_AS_ORIGINAL_P", scipy.stats.fisher_exact(table).pvalue)
    assert claim_row(gmvae_runs([0.9] * 3, 200), SAME_SHARE, gmvae_runs([0.7] * 4, 200, "original"))[1] == "consistent"


def test_the_clipping_rows_measured_text_counts_runs_and_the_shortest_clipped_run():
    df = pd.concat([modified_runs("modified_m2", (None,), 120), modified_runs("modified_m2_clip", (None, None), 150)])
    assert claim_row(df, CLIPPING) == ("unclipped: no NaN in 1 run; clipped: no NaN in 2 runs, shortest run 150 epochs",
                                       "not reached")
    df = pd.concat([modified_runs("modified_m2", (230, 240), 300), modified_runs("modified_m2_clip", (None, 250), 300)])
    assert claim_row(df, CLIPPING) == ("unclipped: NaN at epoch 230, 240 (2 of 2 runs); clipped: NaN at epoch 250 "
                                       "(1 of 2 runs)", "not supported")


def test_the_clipping_row_counts_the_epochs_whose_largest_gradient_norm_exceeded_the_threshold():
    clipped = modified_runs("modified_m2_clip", (None, None), 300).assign(grad_norm_max=100.0, clip_norm=480.0)
    df = pd.concat([modified_runs("modified_m2", (None, None), 300), clipped])
    assert claim_row(df, CLIPPING)[0].endswith("; largest gradient norm 100 against the threshold 480: "
                                               "exceeded in 0 of 600 epochs")
    clipped.loc[(clipped["seed"] == 1) & clipped["epoch"].isin([7, 250]), "grad_norm_max"] = [480.0, 481.0]
    df = pd.concat([modified_runs("modified_m2", (None, None), 300), clipped])
    assert claim_row(df, CLIPPING)[0].endswith("largest gradient norm 481 against the threshold 480: "
                                               "exceeded in 1 of 600 epochs")  # 480 itself is not clipped


def test_the_clipping_row_counts_only_the_epochs_that_logged_both_the_norm_and_the_threshold():
    """A log begun before the gradient norms were logged holds NaN there: those epochs are neither counted nor
    compared; logs without the columns, or with no norm in them, say nothing about the threshold."""
    unclipped = modified_runs("modified_m2", (None, None), 300)
    clipped = modified_runs("modified_m2_clip", (None, None), 300).assign(grad_norm_max=100.0, clip_norm=480.0)
    clipped.loc[clipped["epoch"] <= 20, "grad_norm_max"] = np.nan
    clipped.loc[(clipped["seed"] == 0) & (clipped["epoch"] > 290), "clip_norm"] = np.nan
    assert claim_row(pd.concat([unclipped, clipped]), CLIPPING)[0].endswith(
        "largest gradient norm 100 against the threshold 480: exceeded in 0 of 550 epochs")
    for clipped in (modified_runs("modified_m2_clip", (None, None), 300),
                    modified_runs("modified_m2_clip", (None, None), 300).assign(grad_norm_max=np.nan, clip_norm=480.0)):
        assert claim_row(pd.concat([unclipped, clipped]), CLIPPING) == (
            "unclipped: no NaN in 2 runs; clipped: no NaN in 2 runs, shortest run 300 epochs", "not testable")


def test_the_clipping_row_with_clipped_runs_only_counts_no_unclipped_run():
    assert claim_row(modified_runs("modified_m2_clip", (None,), 300), CLIPPING) == (
        "unclipped: no NaN in 0 runs; clipped: no NaN in 1 run, shortest run 300 epochs", "not reached")


def test_claims_and_open_question_rows_are_numbered_from_0():
    df = pd.concat([gmvae_runs([0.9], 20), modified_runs("m2_iaf", (None,), 20).assign(test_mutual_information=1.5)])
    table = claims.claims_table(df)
    assert list(table.index) == list(range(len(table))) and table["claim"].str.contains("does x inform y").any()


def test_five_of_six_in_the_originals_logs_needs_a_log_to_epoch_500_and_counts_0_80_as_not_above():
    claim = f"{FIVE_OF_SIX}, in the original's logs"
    assert claim_row(gmvae_runs([0.5], 10), claim, gmvae_runs([0.9] * 6, 499, "original")) == (
        "no original GMVAE log reaches epoch 500", "not reached")
    measured, verdict = claim_row(gmvae_runs([0.5], 10), claim, gmvae_runs([0.81] * 4 + [0.80, 0.5], 500, "original"))
    assert verdict == "not supported" and measured.startswith("last logged epoch (500-500): 4 of 6 above 0.80")


def test_the_share_against_the_original_without_our_gmvae_or_the_originals_epoch_is_not_reached():
    assert claim_row(modified_runs("modified_m2", (None,), 10), SAME_SHARE, gmvae_runs([0.7], 200, "original")) == (
        "no log of GMVAE", "not reached")
    assert claim_row(gmvae_runs([0.9], 300), SAME_SHARE, gmvae_runs([0.7], 200, "original")) == (
        "no original GMVAE log reaches epoch 300", "not reached")


def test_the_share_against_one_original_run_and_0_80_on_the_not_above_side():
    """Ours 0.80 twice (not above) against the original's one run at 0.9: the table [[0, 2], [1, 0]]. With these
    margins (one run above in three) the run above is the original's with probability 1/3 and one of ours with 2/3,
    so the two-sided p is 1/3."""
    measured, verdict = claim_row(gmvae_runs([0.80, 0.80], 200), SAME_SHARE, gmvae_runs([0.9], 200, "original"))
    assert (measured, verdict) == ("epoch 200: ours 0 of 2, the original's 1 of 1 above 0.80; Fisher p = 0.333",
                                   "consistent")


def test_the_distribution_table_keeps_one_run_a_side_and_drops_an_epoch_without_values():
    """One run of ours (NaN from epoch 150 on) against one original run: rows at 50 and 100 only, n = 1 each."""
    ours = run_log("gmvae", 0, 200, accuracy=0.8, entropy=0.1, loss=95.0)
    ours.loc[ours["epoch"] >= 150, "test_accuracy"] = np.nan
    theirs = run_log("gmvae", 0, 200, accuracy=0.7, entropy=0.1, loss=95.0, source="original")
    accuracy = fidelity.distribution_table(ours, theirs)
    accuracy = accuracy[accuracy["metric"] == "accuracy"]
    assert list(accuracy["epoch"]) == [50, 100]
    assert list(accuracy["ours_n"]) == [1, 1] and list(accuracy["original_n"]) == [1, 1]


def test_a_run_on_the_widened_edge_of_the_originals_range_is_inside():
    theirs = pd.concat([run_log("gmvae", s, 50, accuracy=a, entropy=0.1, loss=95.0, source="original")
                        for s, a in enumerate((0.5, 0.6))])
    probe = run_log("gmvae", 0, 50, accuracy=0.55, entropy=0.1, loss=95.0)
    row = fidelity.distribution_table(probe, theirs).iloc[0]
    assert (row["low"], row["high"]) == pytest.approx((0.4995, 0.6005))  # half a unit of 5.00e-01 and 6.00e-01
    on_edges = pd.concat([run_log("gmvae", s, 50, accuracy=edge, entropy=0.1, loss=95.0)
                          for s, edge in enumerate((row["low"], row["high"]))])
    assert fidelity.distribution_table(on_edges, theirs).iloc[0]["inside"]


def test_no_model_in_common_gives_an_empty_table_with_its_columns():
    ours = run_log("m2_iaf", 0, 10, accuracy=0.2, entropy=2.0, loss=90.0)
    theirs = run_log("gmvae", 0, 10, accuracy=0.7, entropy=0.1, loss=95.0, source="original")
    for table, columns in ((fidelity.fidelity_table(ours, theirs), fidelity.COLUMNS),
                           (fidelity.distribution_table(ours, theirs), fidelity.DISTRIBUTION_COLUMNS)):
        assert table.empty and list(table.columns) == columns


def test_epochs_past_the_originals_logs_are_left_out_and_a_value_on_the_upper_edge_is_inside():
    """The original logs 12 epochs; ours 20, at exactly the widened upper edge of the original's accuracy: epochs 1,
    5, 10 and the original's last, 12, are compared (not 20, which the original never logged) and each is inside."""
    theirs = pd.concat([run_log("gmvae", s, 12, accuracy=a, entropy=0.1, loss=95.0, source="original")
                        for s, a in enumerate((0.5, 0.6))])
    high = fidelity.fidelity_table(run_log("gmvae", 0, 12, accuracy=0.55, entropy=0.1, loss=95.0),
                                   theirs).iloc[0]["high"]
    table = fidelity.fidelity_table(run_log("gmvae", 0, 20, accuracy=high, entropy=0.1, loss=95.0),
                                    theirs)
    accuracy = table[(table["metric"] == "accuracy") & (table["run"] == "seed 0")]
    assert list(accuracy["epoch"]) == [1, 5, 10, 12] and accuracy["inside"].all() and accuracy["inside_last5"].all()


def test_the_last_compared_epoch_is_the_last_that_most_of_the_originals_runs_logged():
    """The original's three runs stop at epochs 10, 11 and 15 (as its modified M2 turned NaN one run after another):
    two of three log epoch 11, one epoch 12. Ours, rising by 0.01 an epoch, runs to 30: compared at 1, 5, 10 and 11,
    where our accuracy is 0.11 against the original's 0.6 and 0.7 at 11. Ours to 8 is compared at its own last.
    Against two runs that stop at 10 and 15, one of two is not most: the last compared epoch is 10."""
    theirs = pd.concat([run_log("modified_m2", s, epochs, accuracy=a, entropy=0.1, loss=95.0, source="original")
                        for s, (epochs, a) in enumerate(((10, 0.5), (11, 0.6), (15, 0.7)))])
    table = fidelity.fidelity_table(run_log("modified_m2", 0, 30, accuracy=hundredths, entropy=0.1, loss=95.0),
                                    theirs)
    accuracy = table[table["metric"] == "accuracy"].set_index("epoch")
    assert list(accuracy.index) == [1, 5, 10, 11]
    assert accuracy.loc[11, ["ours", "original_runs", "original_min", "original_max"]].tolist() == pytest.approx(
        [0.11, 2, 0.6, 0.7])
    short = fidelity.fidelity_table(run_log("modified_m2", 0, 8, accuracy=hundredths, entropy=0.1, loss=95.0), theirs)
    assert sorted(set(short["epoch"])) == [1, 5, 8]
    verdict = claims._inside_verdict(table, "modified_m2")
    assert verdict == ("epoch 11: accuracy seed 0 0.1100 outside 0.5995-0.7005", "not supported")
    halves = pd.concat([run_log("modified_m2", s, epochs, accuracy=0.5, entropy=0.1, loss=95.0, source="original")
                        for s, epochs in enumerate((10, 15))])
    table = fidelity.fidelity_table(run_log("modified_m2", 0, 30, accuracy=hundredths, entropy=0.1, loss=95.0),
                                    halves)
    assert sorted(set(table["epoch"])) == [1, 5, 10]


def test_the_last_compared_epoch_on_ragged_original_logs():
    """One original run logged at epoch 3 alone: compared at 3 (one of one is most). Two original runs at epochs
    1-3 and 4-6: no epoch has most of them, so only the fixed epochs they logged, 1 and 5. Runs of the original to
    10, 11 and 20 against ours to 20: the fixed epoch 20, which one original run logged, besides the last compared,
    11."""
    def compared(ours_epochs, theirs):
        ours = run_log("gmvae", 0, ours_epochs, accuracy=hundredths, entropy=0.1, loss=95.0)
        return sorted(set(fidelity.fidelity_table(ours, theirs)["epoch"]))

    def original(seed, epochs):
        return run_log("gmvae", seed, epochs, accuracy=0.5, entropy=0.1, loss=95.0, source="original")

    assert compared(10, original(0, 3).query("epoch == 3")) == [3]
    assert compared(10, pd.concat([original(0, 3), original(1, 6).query("epoch >= 4")])) == [1, 5]
    assert compared(20, pd.concat([original(0, 10), original(1, 11), original(2, 20)])) == [1, 5, 10, 11, 20]
