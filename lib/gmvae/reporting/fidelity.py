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
    "standard deviation, at least half a unit of the digit it logged); else different: Welch's two-sided t-test "
    "gives p < 0.05; else undecided (also when either side has fewer than 2 runs)")
DISTRIBUTION_COLUMNS = [
    "source", "run_name", "metric", "epoch", "ours_mean", "ours_sd", "ours_n", "original_mean", "original_sd",
    "original_n", "difference", "ci95_low", "ci95_high", "welch_df", "welch_p", "tost_p", "permutation_p", "margin",
    "detectable_difference", "verdict", "original_min", "original_max", "low", "high", "inside"]


def _difference_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def equivalence_margin(original: np.ndarray) -> float:
    """The original's between-run standard deviation, but never less than half a unit of the digit it logged
    at its mean (its rounded logs give M2's accuracy and entropy no spread at all)."""
    sd = float(np.std(original, ddof=1)) if len(original) > 1 else 0.0
    return max(sd, half_unit(float(np.mean(original))))


def welch_standard_error(ours, original):
    """sqrt(s1^2 / n1 + s2^2 / n2) over the last axis: the standard error of the difference of means that Welch's
    test divides by (SciPy does not return it)."""
    return np.sqrt(np.var(ours, axis=-1, ddof=1) / np.shape(ours)[-1]
                   + np.var(original, axis=-1, ddof=1) / np.shape(original)[-1])


def tost_p_value(difference, standard_error, df, margin):
    """The larger p of the two one-sided Welch tests, of H0 "difference <= -margin" and of H0 "difference >=
    +margin", from Student's t with ``df`` (Welch-Satterthwaite) degrees of freedom: below ALPHA, both H0 are
    rejected at ALPHA. Where neither sample varies, the t statistics are +-inf (their limits) or NaN (no decision)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        above_lower = scipy.stats.t.sf((difference + margin) / standard_error, df)
        below_upper = scipy.stats.t.cdf((difference - margin) / standard_error, df)
    return np.maximum(above_lower, below_upper)


def verdict_of(welch_p, tost_p):
    """DISTRIBUTION_RULE on the two p-values: "equivalent" comes first, as a difference smaller than the margin
    can be both significant and equivalent; a NaN p decides nothing."""
    return np.where(np.less(tost_p, ALPHA), "equivalent", np.where(np.less(welch_p, ALPHA), "different", "undecided"))


def welch_verdict(ours, original, margin) -> dict:
    """Welch's comparison of the mean of ``ours`` with the mean of ``original`` (the runs along the last axis; any
    leading axes are separate comparisons, ``margin`` broadcast against them): the 95 % Welch interval of the
    difference of means (ours - original), the Welch-Satterthwaite degrees of freedom, Welch's two-sided p, the
    TOST p (:func:`tost_p_value`) against ``margin``, the standard error and the verdict of DISTRIBUTION_RULE.
    Each sample needs at least two runs."""
    test = scipy.stats.ttest_ind(ours, original, axis=-1, equal_var=False)
    interval = test.confidence_interval(1 - ALPHA)
    standard_error = welch_standard_error(ours, original)
    tost_p = tost_p_value(_difference_of_means(ours, original), standard_error, test.df, margin)
    return {"ci95_low": interval.low, "ci95_high": interval.high, "welch_df": test.df, "welch_p": test.pvalue,
            "tost_p": tost_p, "standard_error": standard_error, "verdict": verdict_of(test.pvalue, tost_p)}


def detectable_difference(standard_error: float, df: float) -> float:
    """The smallest true difference of means that Welch's two-sided test at ALPHA detects with probability POWER,
    given the observed standard error and Welch-Satterthwaite degrees of freedom: from the noncentral t
    distribution (both taken as known), the noncentrality whose power is POWER, times the standard error. The
    power counts the upper tail only: at 80 %, the lower one adds less than 1e-6. The standard error and df a test
    will estimate vary from sample to sample, so at three runs a side the power at this difference is somewhat
    below POWER."""
    critical = scipy.stats.t.isf(ALPHA / 2, df)

    def power_short_of_target(noncentrality):
        return scipy.stats.nct.sf(critical, df, noncentrality) - POWER

    # at twice the critical value plus 2 the power is above 0.96 for any df >= 1
    return float(scipy.optimize.brentq(power_short_of_target, 0.0, 2 * critical + 2) * standard_error)


def permutation_p_value(ours: np.ndarray, original: np.ndarray) -> float:
    """Two-sided permutation test of the difference of means, exact where the splits are fewer than RESAMPLES."""
    return float(scipy.stats.permutation_test((ours, original), _difference_of_means, permutation_type="independent",
                                              n_resamples=RESAMPLES, alternative="two-sided",
                                              random_state=np.random.default_rng(RESAMPLING_SEED)).pvalue)


def compare_samples(ours: np.ndarray, original: np.ndarray) -> dict:
    """Our replicates' values of one metric at one epoch against the original's: means, standard deviations,
    counts, the difference of means (ours - original) with :func:`welch_verdict`'s interval, p-values and
    verdict, a permutation-test p-value beside them as a second opinion, the margin, and the
    :func:`detectable_difference` of these counts and spreads."""
    ours, original = np.asarray(ours, float), np.asarray(original, float)
    margin = equivalence_margin(original)
    result = {"ours_mean": ours.mean(), "ours_sd": ours.std(ddof=1) if len(ours) > 1 else np.nan,
              "ours_n": len(ours), "original_mean": original.mean(),
              "original_sd": original.std(ddof=1) if len(original) > 1 else np.nan, "original_n": len(original),
              "difference": ours.mean() - original.mean(), "margin": margin}
    if len(ours) < 2 or len(original) < 2:
        return {**result, "ci95_low": np.nan, "ci95_high": np.nan, "welch_df": np.nan, "welch_p": np.nan,
                "tost_p": np.nan, "permutation_p": np.nan, "detectable_difference": np.nan, "verdict": "undecided"}
    welch = welch_verdict(ours, original, margin)
    return {**result, **{key: float(welch[key]) for key in ("ci95_low", "ci95_high", "welch_df", "welch_p", "tost_p")},
            "permutation_p": permutation_p_value(ours, original),
            "detectable_difference": detectable_difference(float(welch["standard_error"]), float(welch["welch_df"])),
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
            "margin": format_value(m, r["margin"]),
            "detectable (80 %)": "-" if not np.isfinite(detectable) else format_value(m, detectable),
            "verdict": r["verdict"],
            "original min - max, widened": f"{format_value(m, r['low'])} - {format_value(m, r['high'])}",
            "all ours inside": "yes" if r["inside"] else "**no**",
        })
    return pd.DataFrame(rows)
