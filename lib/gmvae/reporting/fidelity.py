"""How close our runs come to the original's, in two ways.

Range: each test metric of each run of ours at fixed epochs against the range of the original's published
replicates (:func:`fidelity_table`). Distributions: at the post's horizon epochs, our replicates against
the original's as two samples, with an equivalence verdict (:func:`distribution_table`, rules there).

The original logged three significant digits (``{:10.2e}``), so its 1.03e+02 means 102.5 to 103.5: a
value of ours is *inside* when it lies within the original's min-max over its replicates at that epoch,
each edge widened by half a unit of the digit logged there (:func:`gmvae.reporting.original.half_unit`), and no
wider. A single epoch's loss moves 0.1-0.2 nats from one epoch to the next, so each value comes with the
mean of the last five epochs up to it (fewer at the first epochs), judged the same way against the
original's five-epoch means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats

from gmvae.reporting.original import half_unit
from gmvae.reporting.plots import label, model_order

FIDELITY_EPOCHS = (1, 5, 10, 20, 50)  # besides the last compared epoch (last_compared_epoch)
METRICS = {"test_accuracy": "accuracy", "test_entropy": "H(y|x)", "test_loss": "loss"}
WINDOW = 5  # epochs in the running mean beside each value

COLUMNS = ["source", "run_name", "metric", "epoch", "run", "ours", "ours_last5", "original_runs", "original_min",
           "original_mean", "original_max", "low", "high", "inside", "original_last5_min",
           "original_last5_max", "low_last5", "high_last5", "inside_last5"]


def _wide(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """epoch x seed, NaN where a replicate has no finite value."""
    wide = df.pivot_table(index="epoch", columns="seed", values=column, aggfunc="first", dropna=False)
    return wide.where(np.isfinite(wide))


def _running_mean(wide: pd.DataFrame) -> pd.DataFrame:
    """Mean of the last WINDOW epochs up to each epoch (fewer at the start), NaN where the epoch is NaN."""
    full = wide.reindex(range(1, int(wide.index.max()) + 1))
    means = full.rolling(WINDOW, min_periods=1).mean()
    return means.where(full.notna())


def _edges(values: pd.Series) -> tuple[float, float, float, float]:
    """(min, max, low, high): the range of the logged values and its edges widened by half a logged unit."""
    lo, hi = float(values.min()), float(values.max())
    return lo, hi, lo - half_unit(lo), hi + half_unit(hi)


def last_compared_epoch(our_last: int, their_wide: pd.DataFrame) -> int | None:
    """``our_last`` or, where it comes first, the last epoch at which most of the original's replicates logged a
    finite value (its modified-M2 runs turn NaN one after another: past the second, its range is one run's); None
    if no epoch has most of them."""
    logged = their_wide.notna().sum(axis=1)
    most = logged.index[logged > their_wide.shape[1] / 2]
    if len(most) == 0:
        return None
    return int(min(our_last, most.max()))


def fidelity_table(ours: pd.DataFrame, original: pd.DataFrame, epochs=FIDELITY_EPOCHS) -> pd.DataFrame:
    """Per source of ours, model that both have, metric, epoch (``epochs`` ours reached and
    :func:`last_compared_epoch`) and run of ours (each seed, and the mean when there are several): our value and
    five-epoch mean, the original's replicates that reached the epoch (count, min, mean, max, widened edges) and
    whether ours is inside.

    ``ours``: gmvae.reporting.plots.load_runs output, possibly of several sources (its ``source`` column, e.g. runs
    kept from an earlier protocol); ``original``: gmvae.reporting.original.load_original_logs output.
    """
    rows = []
    for keys, mine, theirs in _pairs(ours, original):
        rows += _compare(mine, theirs, epochs, keys)
    return pd.DataFrame(rows, columns=COLUMNS)


def _pairs(ours: pd.DataFrame, original: pd.DataFrame):
    """({"source", "run_name"}, our logs, the original's logs) per source of ours and model that both have, in the
    post's order of the models."""
    for source in dict.fromkeys(ours["source"]):
        mine_all = ours[ours["source"] == source]
        for run_name in sorted(set(mine_all["run_name"]), key=model_order):
            theirs = original[original["run_name"] == run_name]
            if len(theirs):
                yield {"source": source, "run_name": run_name}, mine_all[mine_all["run_name"] == run_name], theirs


def _compare(mine: pd.DataFrame, theirs: pd.DataFrame, epochs, keys: dict) -> list[dict]:
    rows = []
    for column in METRICS:
        our_wide, their_wide = _wide(mine, column), _wide(theirs, column)
        our_mean5, their_mean5 = _running_mean(our_wide), _running_mean(their_wide)
        our_last = int(our_wide.dropna(how="all").index.max())
        last = last_compared_epoch(our_last, their_wide)
        for epoch in sorted({e for e in epochs if e <= our_last} | ({last} if last is not None else set())):
            if epoch not in their_wide.index or their_wide.loc[epoch].isna().all():
                continue
            their_values = their_wide.loc[epoch].dropna()
            lo, hi, low, high = _edges(their_values)
            lo5, hi5, low5, high5 = _edges(their_mean5.loc[epoch].dropna())
            reached = [s for s in our_wide.columns if epoch in our_wide.index and np.isfinite(our_wide.loc[epoch, s])]
            runs = {f"seed {int(s)}": (our_wide.loc[epoch, s], our_mean5.loc[epoch, s]) for s in reached}
            if len(runs) > 1:  # the mean over the seeds that reached the epoch
                runs["mean"] = (our_wide.loc[epoch, reached].mean(), our_mean5.loc[epoch, reached].mean())
            for run, (value, value5) in runs.items():
                rows.append({
                    **keys, "metric": METRICS[column], "epoch": epoch, "run": run,
                    "ours": float(value), "ours_last5": float(value5), "original_runs": len(their_values),
                    "original_min": lo, "original_mean": float(their_values.mean()), "original_max": hi,
                    "low": low, "high": high, "inside": bool(low <= value <= high),
                    "original_last5_min": lo5, "original_last5_max": hi5, "low_last5": low5, "high_last5": high5,
                    "inside_last5": bool(low5 <= value5 <= high5),
                })
    return rows


def format_value(metric: str, value: float) -> str:
    """A value of METRICS as the tables print it: loss to 0.01 nats, accuracy and H(y|x) to 0.0001 (a
    widened edge such as 0.1135 needs the fourth digit)."""
    return f"{value:.2f}" if metric == "loss" else f"{value:.4f}"


def fidelity_markdown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The fidelity table with formatted cells, for markdown: one row per (model, metric, epoch, run)."""
    def yes_no(inside):
        return "yes" if inside else "**no**"

    rows = []
    for _, r in table.iterrows():
        m = r["metric"]
        rows.append({
            "model": label(r["run_name"]), "metric": m, "epoch": int(r["epoch"]), "run": r["run"],
            "ours": format_value(m, r["ours"]), "ours, last 5": format_value(m, r["ours_last5"]),
            "original min / mean / max (runs)": f"{format_value(m, r['original_min'])} / {format_value(m, r['original_mean'])} / "
                                                f"{format_value(m, r['original_max'])} ({r['original_runs']})",
            "inside": yes_no(r["inside"]),
            "original last 5, min - max": f"{format_value(m, r['original_last5_min'])} - {format_value(m, r['original_last5_max'])}",
            "inside, last 5": yes_no(r["inside_last5"]),
        })
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ distributions

DISTRIBUTION_EPOCHS = (50, 100, 150, 200)
ALPHA = 0.05               # level of Welch's test and of each one-sided test of the equivalence test
POWER = 0.8                # of the detectable difference
RESAMPLES = 9999           # permutations per comparison
RESAMPLING_SEED = 0        # every comparison permutes with this seed: the table is the same on every run
DISTRIBUTION_RULE = (
    "equivalent: two one-sided Welch t-tests (TOST), each at 5 %, reject a difference of means of -margin or less "
    "and of +margin or more, i.e. the 90 % Welch interval lies inside +-margin (margin = the original's between-run "
    "standard deviation, at least half a unit of the digit it logged at its mean); else different: the 95 % Welch "
    "interval of the difference lies wholly beyond +-half a unit of the digit the original logged at its mean (so "
    "Welch's two-sided p < 0.05, and a difference its rounding could make, one of half a unit or less, is never "
    "different); else undecided (also when either side has fewer than 2 runs). Where neither side varies, the "
    "difference is known exactly and each test takes its limit as the spread goes to 0: the interval is the "
    "difference alone, Welch's p is 0 (1 where the two are equal), and the TOST p is 0 for a difference inside +-margin, "
    "1/2 on its edge and 1 beyond it")
DISTRIBUTION_COLUMNS = [
    "source", "run_name", "metric", "epoch", "ours_mean", "ours_sd", "ours_n", "original_mean", "original_sd",
    "original_n", "difference", "ci95_low", "ci95_high", "welch_df", "welch_p", "tost_p", "permutation_p", "margin",
    "resolution", "detectable_difference", "verdict", "original_min", "original_max", "low", "high", "inside"]
SAME_UP_TO = 1e-9  # a difference within this share of the bound it is compared with is on it (0.1135 - 0.114 is
                   # -0.0005 - 4e-19 in floating point, half a unit of 0.114 is 0.0005)


def _difference_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def sample_moments(values):
    """(mean, variance with ddof 1) over the last axis. A sample whose values are all equal has its value as mean
    and a variance of exactly 0, not the few units of the last place that summing leaves (0.1135 four times has a
    float mean that can differ from 0.1135)."""
    values = np.asarray(values, float)
    constant = np.ptp(values, axis=-1) == 0
    mean = np.where(constant, values[..., 0], np.mean(values, axis=-1))
    if values.shape[-1] < 2:
        return mean, np.full(np.shape(mean), np.nan)
    return mean, np.where(constant, 0.0, np.var(values, axis=-1, ddof=1))


def rounding_resolution(original) -> np.ndarray:
    """Half a unit of the digit the original logged at its mean (:func:`half_unit`), over the last axis: the
    largest gap between two means that its rounding alone can make, and so the smallest the verdicts resolve."""
    return np.vectorize(half_unit, otypes=[float])(sample_moments(original)[0])


def equivalence_margin(original):
    """The original's between-run standard deviation, but never less than half a unit of the digit it logged
    at its mean (:func:`rounding_resolution`; its rounded logs give M2's accuracy and entropy no spread at all),
    over the last axis; one run has no spread, so its margin is the half unit."""
    variance = sample_moments(original)[1]
    return np.fmax(np.sqrt(variance), rounding_resolution(original))


def _sign(x, scale):
    """-1, 0 or +1: the sign of ``x``, 0 where |x| is at most SAME_UP_TO of ``scale`` (floating-point noise)."""
    return np.where(np.abs(x) <= SAME_UP_TO * np.abs(scale), 0, np.sign(x))


def welch_standard_error(ours, original):
    """sqrt(s1^2 / n1 + s2^2 / n2) over the last axis: the standard error of the difference of means that Welch's
    test divides by; exactly 0 where neither sample varies (:func:`sample_moments`)."""
    return np.sqrt(sample_moments(ours)[1] / np.shape(ours)[-1] + sample_moments(original)[1] / np.shape(original)[-1])


def welch_df(ours, original):
    """The Welch-Satterthwaite degrees of freedom over the last axis; NaN where neither sample varies (0 / 0: no
    test there needs them, :func:`t_cdf`)."""
    a = sample_moments(ours)[1] / np.shape(ours)[-1]
    b = sample_moments(original)[1] / np.shape(original)[-1]
    denominator = a ** 2 / (np.shape(ours)[-1] - 1) + b ** 2 / (np.shape(original)[-1] - 1)
    return np.divide((a + b) ** 2, denominator, out=np.full(np.shape(denominator), np.nan), where=denominator > 0)


def t_cdf(shift, standard_error, df, scale):
    """P(T < shift / standard_error) for Student's t with ``df`` degrees of freedom. Where the standard error is 0,
    its limit as the spread goes to 0 at a fixed ``shift``, whatever df: 1 for a positive shift, 0 for a negative
    one, 1/2 for none (|shift| within SAME_UP_TO of ``scale``, as t = 0 gives 1/2 at any spread)."""
    varies = standard_error > 0
    safe_se, safe_df = np.where(varies, standard_error, 1.0), np.where(varies, df, 1.0)
    return np.where(varies, scipy.stats.t.cdf(shift / safe_se, safe_df), 0.5 * (1 + _sign(shift, scale)))


def tost_p_value(difference, standard_error, df, margin):
    """The larger p of the two one-sided Welch tests, of H0 "difference <= -margin" and of H0 "difference >=
    +margin", from Student's t with ``df`` (Welch-Satterthwaite) degrees of freedom: below ALPHA, both H0 are
    rejected at ALPHA. Where neither sample varies (standard error 0) each takes its limit (:func:`t_cdf`), so the
    TOST p is 0 for |difference| < margin, 1/2 for |difference| = margin and 1 beyond it."""
    above_lower = t_cdf(-(difference + margin), standard_error, df, margin)  # P(T > (d + m) / se)
    below_upper = t_cdf(difference - margin, standard_error, df, margin)     # P(T < (d - m) / se)
    return np.maximum(above_lower, below_upper)


def verdict_of(welch_p, tost_p, beyond_rounding):
    """DISTRIBUTION_RULE on the two p-values and on whether the 95 % Welch interval lies wholly beyond +-half a
    logged unit (:func:`welch_verdict`): "equivalent" comes first, as a difference smaller than the margin can be
    both significant and equivalent; a NaN p decides nothing; "different" needs both Welch's p below ALPHA and the
    interval beyond the rounding."""
    different = np.less(welch_p, ALPHA) & np.asarray(beyond_rounding, bool)
    return np.where(np.less(tost_p, ALPHA), "equivalent", np.where(different, "different", "undecided"))


def welch_verdict(ours, original, margin) -> dict:
    """Welch's comparison of the mean of ``ours`` with the mean of ``original`` (the runs along the last axis; any
    leading axes are separate comparisons, ``margin`` broadcast against them): the 95 % Welch interval of the
    difference of means (ours - original), the Welch-Satterthwaite degrees of freedom, Welch's two-sided p, the
    TOST p (:func:`tost_p_value`) against ``margin``, the standard error, the :func:`rounding_resolution` (half a logged
    unit at the original's mean) and the verdict of DISTRIBUTION_RULE. Each sample needs at least two runs.

    Computed here rather than by SciPy's ``ttest_ind``, which divides 0 by 0 and warns of catastrophic cancellation
    where a sample does not vary: where neither varies, the interval is the difference alone, Welch's p is 0 for a
    difference and 1 for none, df is NaN, and the TOST p is :func:`tost_p_value`'s limit."""
    ours, original = np.asarray(ours, float), np.asarray(original, float)
    difference = sample_moments(ours)[0] - sample_moments(original)[0]
    standard_error, df = welch_standard_error(ours, original), welch_df(ours, original)
    varies = standard_error > 0
    safe_se, safe_df = np.where(varies, standard_error, 1.0), np.where(varies, df, 1.0)
    welch_p = np.where(varies, 2 * scipy.stats.t.sf(np.abs(difference) / safe_se, safe_df),
                       np.where(difference == 0, 1.0, 0.0))
    half_width = np.where(varies, scipy.stats.t.isf(ALPHA / 2, safe_df) * standard_error, 0.0)
    half_unit_at_mean = rounding_resolution(original)
    beyond_rounding = _sign(np.abs(difference) - half_width - half_unit_at_mean, half_unit_at_mean) > 0
    tost_p = tost_p_value(difference, standard_error, df, margin)
    return {"ci95_low": difference - half_width, "ci95_high": difference + half_width, "welch_df": df,
            "welch_p": welch_p, "tost_p": tost_p, "standard_error": standard_error, "resolution": half_unit_at_mean,
            "verdict": verdict_of(welch_p, tost_p, beyond_rounding)}


def detectable_difference(standard_error: float, df: float, resolution: float = 0.0) -> float:
    """The smallest true difference of means that the rule finds "different" (its 95 % Welch interval wholly
    beyond +-``resolution``) with probability POWER, given the observed standard error and Welch-Satterthwaite
    degrees of freedom: ``resolution`` plus the standard error times the noncentrality at which the noncentral t
    distribution (both taken as known) exceeds Welch's two-sided critical value at ALPHA with probability POWER
    (the interval's lower end, d - t se, is beyond the resolution just when (d - resolution) / se is beyond the
    critical value). The power counts the upper tail only: at 80 %, the lower one adds less than 1e-6. The
    standard error and df a test will estimate vary from sample to sample, so at three runs a side the power at
    this difference is somewhat below POWER. Where neither side varies (standard error 0), any difference beyond
    the resolution is found: the resolution itself."""
    if standard_error == 0:
        return float(resolution)
    critical = scipy.stats.t.isf(ALPHA / 2, df)

    def power_short_of_target(noncentrality):
        return scipy.stats.nct.sf(critical, df, noncentrality) - POWER

    # at twice the critical value plus 2 the power is above 0.96 for any df >= 1
    return float(resolution + scipy.optimize.brentq(power_short_of_target, 0.0, 2 * critical + 2) * standard_error)


def permutation_p_value(ours: np.ndarray, original: np.ndarray) -> float:
    """Two-sided permutation test of the difference of means, exact where the splits are fewer than RESAMPLES."""
    return float(scipy.stats.permutation_test((ours, original), _difference_of_means, permutation_type="independent",
                                              n_resamples=RESAMPLES, alternative="two-sided",
                                              random_state=np.random.default_rng(RESAMPLING_SEED)).pvalue)


def compare_samples(ours: np.ndarray, original: np.ndarray) -> dict:
    """Our replicates' values of one metric at one epoch against the original's: means, standard deviations,
    counts, the difference of means (ours - original) with :func:`welch_verdict`'s interval, p-values, half a
    logged unit at the original's mean and verdict, a permutation-test p-value beside them as a second opinion,
    the margin, and the :func:`detectable_difference` of these counts and spreads."""
    ours, original = np.asarray(ours, float), np.asarray(original, float)
    (ours_mean, ours_var), (original_mean, original_var) = sample_moments(ours), sample_moments(original)
    margin = float(equivalence_margin(original))
    result = {"ours_mean": float(ours_mean), "ours_sd": float(np.sqrt(ours_var)), "ours_n": len(ours),
              "original_mean": float(original_mean), "original_sd": float(np.sqrt(original_var)),
              "original_n": len(original), "difference": float(ours_mean - original_mean), "margin": margin,
              "resolution": float(rounding_resolution(original))}
    if len(ours) < 2 or len(original) < 2:
        return {**result, "ci95_low": np.nan, "ci95_high": np.nan, "welch_df": np.nan, "welch_p": np.nan,
                "tost_p": np.nan, "permutation_p": np.nan, "detectable_difference": np.nan, "verdict": "undecided"}
    welch = welch_verdict(ours, original, margin)
    return {**result, **{key: float(welch[key]) for key in ("ci95_low", "ci95_high", "welch_df", "welch_p", "tost_p")},
            "permutation_p": permutation_p_value(ours, original),
            "detectable_difference": detectable_difference(float(welch["standard_error"]), float(welch["welch_df"]),
                                                           result["resolution"]),
            "verdict": str(welch["verdict"])}


def distribution_table(ours: pd.DataFrame, original: pd.DataFrame, epochs=DISTRIBUTION_EPOCHS) -> pd.DataFrame:
    """Per source of ours, model that both have, metric and epoch of ``epochs`` where both have a finite value:
    :func:`compare_samples` of our replicates against the original's that reached the epoch, with the
    original's min-max widened by half a logged unit and whether every run of ours is inside it.
    Arguments as :func:`fidelity_table`."""
    rows = []
    for keys, mine, theirs in _pairs(ours, original):
        for column, metric in METRICS.items():
            our_wide, their_wide = _wide(mine, column), _wide(theirs, column)
            for epoch in epochs:
                if epoch not in our_wide.index or epoch not in their_wide.index:
                    continue
                a, b = our_wide.loc[epoch].dropna().to_numpy(), their_wide.loc[epoch].dropna().to_numpy()
                if len(a) == 0 or len(b) == 0:
                    continue
                lo, hi, low, high = _edges(pd.Series(b))
                rows.append({**keys, "metric": metric, "epoch": epoch, **compare_samples(a, b), "original_min": lo,
                             "original_max": hi, "low": low, "high": high,
                             "inside": bool(((low <= a) & (a <= high)).all())})
    return pd.DataFrame(rows, columns=DISTRIBUTION_COLUMNS)


def distribution_markdown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The distribution table with formatted cells, for markdown."""
    def spread(mean, sd, n, metric):
        return f"{format_value(metric, mean)} ± {format_value(metric, sd) if np.isfinite(sd) else '-'} ({n})"

    def interval(lo, hi, metric):
        return "-" if not np.isfinite(lo) else f"[{format_value(metric, lo)}, {format_value(metric, hi)}]"

    def p(value):
        return "-" if not np.isfinite(value) else "< 0.001" if value < 0.001 else f"{value:.3f}"

    rows = []
    for _, r in table.iterrows():
        m = r["metric"]
        detectable = r["detectable_difference"]
        rows.append({
            "model": label(r["run_name"]), "metric": m, "epoch": int(r["epoch"]),
            "ours mean ± sd (n)": spread(r["ours_mean"], r["ours_sd"], r["ours_n"], m),
            "original mean ± sd (n)": spread(r["original_mean"], r["original_sd"], r["original_n"], m),
            "difference": f"{r['difference']:+.4f}" if m != "loss" else f"{r['difference']:+.2f}",
            "95 % interval (Welch)": interval(r["ci95_low"], r["ci95_high"], m),
            "p (Welch)": p(r["welch_p"]), "p (TOST)": p(r["tost_p"]), "p (permutation)": p(r["permutation_p"]),
            "margin": format_value(m, r["margin"]), "half unit": format_value(m, r["resolution"]),
            "detectable (80 %)": "-" if not np.isfinite(detectable) else format_value(m, detectable),
            "verdict": r["verdict"],
            "original min - max, widened": f"{format_value(m, r['low'])} - {format_value(m, r['high'])}",
            "all ours inside": "yes" if r["inside"] else "**no**",
        })
    return pd.DataFrame(rows)
