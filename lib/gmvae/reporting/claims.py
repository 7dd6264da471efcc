"""The post's claims, each checked against the logs by a rule written here, with a verdict.

A rule's thresholds are the module's constants; the table says the rule, what was measured and the
verdict, so a reader can check each one by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.stats

from gmvae.reporting.fidelity import fidelity_table, format_value
from gmvae.reporting.plots import final_values

ENTROPY_UNIFORM_MIN = 2.2     # nats; ln 10 = 2.303 means q(y|x) is uniform
ACCURACY_COLLAPSED_MAX = 0.2  # the majority-class rate of the MNIST test set is 0.1135
ACCURACY_GAP_MIN = 0.2        # "far better": at least 20 points of accuracy
NAN_TESTABLE_EPOCHS = 300     # the post saw modified M2 turn NaN after a few hundred epochs
NAN_EARLIEST = 100            # NaN before this epoch is not "after a few hundred epochs"
# the nan profile's runs: rule 7 on each, with the numerics they test
NAN_STUDY_RUNS = {"modified_m2_float32": "ours in float32",
                  "modified_m2_original_graph": "the original's graph in float32"}
# "By the 1000th epoch, five out of six replicates achieved accuracy performances above 80%."
HIGH_ACCURACY = 0.80
HIGH_SHARE = 5 / 6
STATEMENT_EPOCH = 1000
LONG_RUN_EPOCHS = 500         # the original's GMVAE logs that count at their last epoch: those that reach this
ORIGINAL_CHECK_EPOCHS = (200, 500)
SAME_AS_ORIGINAL_P = 0.05     # Fisher's exact test: a p-value below this calls our share unlike the original's

# The post's open question (notebook 05): does x inform y? I(x; y) at the last epoch, in nats (max ln 10).
Y_USED_INFORMATION_MIN = 1.0    # "y used": I(x; y) above this ...
Y_USED_ACCURACY_MIN = 0.3       # ... and cluster accuracy above this
Y_UNUSED_INFORMATION_MAX = 0.1  # "y unused": I(x; y) below this (or its bound ln K - H(y|x), for older logs)
OPEN_QUESTION_RUNS = {
    "m2": "M2 as the post trains it",
    "m2_iaf": "M2 with a richer posterior (q(z|x,y) an inverse autoregressive flow)",
    "m2_eta0": "M2 without the prior's pull on y (KL(q(y|x) || p(y)) weighted 0 in training)",
}

CLAIM_COLUMNS = ["section", "claim", "rule", "measured", "verdict"]


def _final_mean(df, run_name, column):
    """(mean over replicates of the last finite value, list of final epochs, replicate count)."""
    f = final_values(df[df["run_name"] == run_name], column)
    if f.empty:
        return None, [], 0
    return float(f[column].mean()), sorted(set(f["epoch"])), len(f)


def _last_epoch_every_model_reached(df, run_names, column):
    """The last epoch that every one of ``run_names`` with a finite ``column`` reached (in its longest run), or
    None: where models trained for different numbers of epochs (modified M2 to 300, the others to 200) are
    compared."""
    last = [f["epoch"].max() for f in (final_values(df[df["run_name"] == r], column) for r in run_names) if len(f)]
    return min(last, default=None)


def _up_to(df, epoch):
    return df if epoch is None else df[df["epoch"] <= epoch]


def _common_epoch_means(df, run_names, column):
    """({run_name: mean over its replicates, None without a log}, the epoch): each model at
    :func:`_last_epoch_every_model_reached`, a run that ended before it at its last finite value."""
    common = _last_epoch_every_model_reached(df, run_names, column)
    return {r: _final_mean(_up_to(df, common), r, column)[0] for r in run_names}, common


def _epochs_text(epochs):
    """The sorted final epochs of a model's runs (at least one): "epoch 50", or "epochs 48-50"."""
    return f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}-{epochs[-1]}"


def _describe(name, value, epochs, n, unit=""):
    return f"{name} {value:.3f}{unit} ({_epochs_text(epochs)}, {n} run{'s' if n != 1 else ''})"


def claims_table(df: pd.DataFrame, original: pd.DataFrame | None = None) -> pd.DataFrame:
    """The post's claims, each with the measured value and a verdict, from :func:`plots.load_runs` logs.

    "Final" value of a run = its value at the last epoch where it is finite (a run that turned NaN is
    judged at its last finite epoch); a model's final value = the mean over its replicates. Claims that compare
    models take each one at the last epoch all of them reached (:func:`_common_epoch_means`).
    Verdicts: "supported", "not supported", or "not reached" (the logs cannot decide it: the model's
    logs are missing, or the runs are too short); the clipping conjecture also "not testable" (long enough
    runs, but no NaN for clipping to prevent).

    1. M2's q(y|x) becomes uniform: final M2 test entropy > 2.2 nats (ln 10 = 2.303).
    2. M2's accuracy falls to the majority-class rate: final M2 test accuracy < 0.2 (rate 0.1135).
    3. Modified M2 clusters far better than M2: accuracy of modified M2 minus M2's > 0.2.
    4. GMVAE clusters best: its mean accuracy is higher than both M2's and modified M2's.
    5. M2 reaches the lowest variational loss: its mean test loss is below both others'.
    6. Modified M2 has the highest variational loss: its mean test loss is above both others'.
    7. Modified M2 turns NaN after a few hundred epochs: supported if a modified-M2 run turned NaN at
       epoch >= 100; not supported if one turned NaN earlier, or if all ran >= 300 epochs without NaN;
       not reached if they ran fewer than 300 epochs without NaN. Also on each of NAN_STUDY_RUNS that has logs.
    8. Clipping the gradients would prevent the NaN (the post's conjecture, :data:`CLIPPING_RULE`), with logs
       of modified M2 with clipped gradients (run name modified_m2_clip). Also on each of NAN_STUDY_RUNS that has
       logs, against its clipped runs (run name + "_clip"). Runs that reached epoch 300 without NaN leave
       nothing to clip: not testable, with or without clipped runs.
    9. Five of six GMVAE replicates above 80 % accuracy by epoch 1000 (:data:`HIGH_ACCURACY_RULE`): on ours
       at the last epoch all our GMVAE runs reached, and whether our share above 80 % there is the
       original's share at the same epoch (:data:`SAME_SHARE_RULE`).

    With ``original`` (gmvae.reporting.original.load_original_logs output), also: rules 7 and 9 on the
    original's logs (9 at the last epoch of its runs that reach LONG_RUN_EPOCHS, with its counts at
    ORIGINAL_CHECK_EPOCHS), and, per model, whether each of our runs lies inside the original's range at the
    last epoch both logged (:data:`INSIDE_RULE`, from :func:`gmvae.reporting.fidelity.fidelity_table`). With logs of the
    open question's M2 variants, also :func:`open_question_table`.
    """
    rows = []

    def add(section, claim, rule, measured, verdict):
        rows.append(dict(section=section, claim=claim, rule=rule, measured=measured, verdict=verdict))

    def verdict(ok):
        return "supported" if ok else "not supported"

    missing = "not reached"
    fidelity = fidelity_table(df, original) if original is not None else None
    ent_m2, ep_m2, n_m2 = _final_mean(df, "m2", "test_entropy")
    three = ("m2", "modified_m2", "gmvae")
    acc, acc_epoch = _common_epoch_means(df, three, "test_accuracy")
    loss, loss_epoch = _common_epoch_means(df, three, "test_loss")

    def no_log(*names):
        return "no log of " + ", ".join(names)

    # 1
    rule = f"final M2 test H(y|x) > {ENTROPY_UNIFORM_MIN} nats (ln 10 = {math.log(10):.3f})"
    if ent_m2 is None:
        add("1 M2", "M2's q(y|x) becomes uniform", rule, no_log("M2"), missing)
    else:
        add("1 M2", "M2's q(y|x) becomes uniform", rule, _describe("M2 H(y|x)", ent_m2, ep_m2, n_m2, " nats"),
            verdict(ent_m2 > ENTROPY_UNIFORM_MIN))
    # 2
    rule = f"final M2 test accuracy < {ACCURACY_COLLAPSED_MAX} (majority-class rate 0.1135)"
    a, ep, n = _final_mean(df, "m2", "test_accuracy")
    if a is None:
        add("1 M2", "M2's cluster accuracy falls to the majority-class rate", rule, no_log("M2"), missing)
    else:
        add("1 M2", "M2's cluster accuracy falls to the majority-class rate", rule,
            _describe("M2 accuracy", a, ep, n), verdict(a < ACCURACY_COLLAPSED_MAX))
    # 3
    rule = f"accuracy of modified M2 minus M2's > {ACCURACY_GAP_MIN}, at the last epoch both reached"
    pair, epoch = _common_epoch_means(df, ("modified_m2", "m2"), "test_accuracy")
    a_mod, a_m2 = pair["modified_m2"], pair["m2"]
    if a_mod is None or a_m2 is None:
        add("2 modified M2", "Modified M2 clusters far better than M2", rule,
            no_log(*[l for l, v in (("M2", a_m2), ("modified M2", a_mod)) if v is None]), missing)
    else:
        add("2 modified M2", "Modified M2 clusters far better than M2", rule,
            f"{a_mod:.3f} - {a_m2:.3f} = {a_mod - a_m2:+.3f} (epoch {epoch})", verdict(a_mod - a_m2 > ACCURACY_GAP_MIN))
    # 4, 5, 6: orderings among the three models
    names = {"m2": "M2", "modified_m2": "modified M2", "gmvae": "GMVAE"}

    at_common = "at the last epoch all three reached"

    def ordering(section, claim, rule, values, epoch, best, pick):
        absent = [names[r] for r, v in values.items() if v is None]
        if absent:
            add(section, claim, rule, no_log(*absent), missing)
            return
        measured = ", ".join(f"{names[r]} {v:.3f}" for r, v in values.items()) + f" (epoch {epoch})"
        others = [v for r, v in values.items() if r != best]
        add(section, claim, rule, measured, verdict(pick(values[best], others)))

    ordering("3 GMVAE", "GMVAE clusters best", f"mean test accuracy of GMVAE above both other models', {at_common}",
             acc, acc_epoch, "gmvae", lambda v, others: all(v > o for o in others))
    ordering("4 overlay", "M2 reaches the lowest variational loss",
             f"mean test loss of M2 below both other models', {at_common}",
             loss, loss_epoch, "m2", lambda v, others: all(v < o for o in others))
    ordering("4 overlay", "Modified M2 has the highest variational loss",
             f"mean test loss of modified M2 above both other models', {at_common}",
             loss, loss_epoch, "modified_m2", lambda v, others: all(v > o for o in others))
    # 7, and the same rule on the original's logs
    rule = (f"a modified-M2 run turns NaN at epoch >= {NAN_EARLIEST}; testable only with >= {NAN_TESTABLE_EPOCHS} "
            f"epochs without NaN")
    claim = "Modified M2 turns NaN after a few hundred epochs"
    g = _runs_of(df, "modified_m2")
    add("2 modified M2", claim, rule, *(_nan_verdict(g) if len(g) else (no_log("modified M2"), missing)))
    if original is not None:
        g = original[original["run_name"] == "modified_m2"]
        add("2 modified M2", f"{claim}, in the original's logs", rule,
            *(_nan_verdict(g) if len(g) else ("no original log of modified M2", missing)))
    for run_name, numerics in NAN_STUDY_RUNS.items():  # the nan profile's runs, where they are
        g = _runs_of(df, run_name)
        if len(g):
            add("2 modified M2", f"{claim}, {numerics}", rule, *_nan_verdict(g))
    # 8
    claim = "Clipping the gradients would prevent the NaN"
    add("2 modified M2", claim, CLIPPING_RULE,
        *_clipping_verdict(_runs_of(df, "modified_m2"), _runs_of(df, CLIPPED_RUN)))
    for run_name, numerics in NAN_STUDY_RUNS.items():  # where the nan profile's runs are: clipped, or nothing to clip
        g = _runs_of(df, run_name)
        if len(g):
            add("2 modified M2", f"{claim}, {numerics}", CLIPPING_RULE,
                *_clipping_verdict(g, _runs_of(df, f"{run_name}_clip"), numerics))
    # 9
    claim = "By epoch 1000, five of six GMVAE replicates are above 80 % accuracy"
    gmvae = _runs_of(df, "gmvae")
    add("3 GMVAE", claim, HIGH_ACCURACY_RULE, *_high_accuracy_verdict(gmvae))
    if original is not None:
        theirs = original[original["run_name"] == "gmvae"]
        add("3 GMVAE", f"{claim}, in the original's logs", HIGH_ACCURACY_RULE, *_original_high_accuracy(theirs))
        add("3 GMVAE", "Our GMVAE replicates are above 80 % as often as the original's at the same epoch",
            SAME_SHARE_RULE, *_same_share_verdict(gmvae, theirs))
        for run_name in ("m2", "modified_m2", "gmvae"):
            add("vs original", f"Our {names[run_name]} lies inside the original's range at the last epoch both logged",
                INSIDE_RULE, *_inside_verdict(fidelity, run_name))
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    if len(df) and df["run_name"].isin([r for r in OPEN_QUESTION_RUNS if r != "m2"]).any():
        table = pd.concat([table, open_question_table(df)], ignore_index=True)
    return table


def _y_usage(df: pd.DataFrame, run_name: str) -> tuple[str, str]:
    """(measured, verdict) of "does x inform y" for one model, from its last epoch (mean over seeds)."""
    information, epochs, n = _final_mean(df, run_name, "test_mutual_information")
    accuracy, _, _ = _final_mean(df, run_name, "test_accuracy")
    if information is None:  # a log written before I(x; y) was logged: its bound may still decide
        entropy, epochs, n = _final_mean(df, run_name, "test_entropy")
        if entropy is None:
            return f"no log of {run_name}", "not reached"
        bound = math.log(int(df.loc[df["run_name"] == run_name, "k"].iloc[0])) - entropy
        measured = f"I(x; y) <= ln K - H(y|x) = {bound:.3f} nats ({_epochs_text(epochs)}, {n} run{'s' if n != 1 else ''})"
        return measured, "y unused" if bound < Y_UNUSED_INFORMATION_MAX else "undecided"
    measured = (f"I(x; y) {information:.3f} nats, accuracy {accuracy:.3f} ({_epochs_text(epochs)}, "
                f"{n} run{'s' if n != 1 else ''})")
    if information > Y_USED_INFORMATION_MIN:  # x tells y; whether y tells the digit is the accuracy's to say
        return measured, "y used" if accuracy > Y_USED_ACCURACY_MIN else "y used, not for the digit"
    return measured, "y unused" if information < Y_UNUSED_INFORMATION_MAX else "undecided"


Y_USAGE_RULE = (f"at the last epoch all the compared models reached: 'y used' if I(x; y) > {Y_USED_INFORMATION_MIN} "
                f"nat and accuracy > {Y_USED_ACCURACY_MIN} ('y used, not for the digit' if the accuracy is not); "
                f"'y unused' if I(x; y) < {Y_UNUSED_INFORMATION_MAX} nat; else 'undecided'")


def open_question_table(df: pd.DataFrame) -> pd.DataFrame:
    """The post's open question, one row per model of OPEN_QUESTION_RUNS that has logs in ``df``, each at the
    last epoch all of them reached (M2 trains to 200 in the post profile, its variants to 50)."""
    present = [r for r in OPEN_QUESTION_RUNS if len(df) and (df["run_name"] == r).any()]
    upto = _up_to(df, _last_epoch_every_model_reached(df, present, "test_entropy"))
    rows = [{"section": "5 open question", "claim": f"{OPEN_QUESTION_RUNS[run_name]}: does x inform y?",
             "rule": Y_USAGE_RULE, **dict(zip(("measured", "verdict"), _y_usage(upto, run_name)))}
            for run_name in present]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def y_usage_by_seed(df: pd.DataFrame, run_name: str) -> pd.DataFrame:
    """Does x inform y, run by run: one row per source and seed of ``run_name``, each at its own last epoch, with
    the rule of :func:`open_question_table`; where the runs disagree, the mean hides it."""
    runs = df[df["run_name"] == run_name]
    rows = [{"source": source, "seed": int(seed), **dict(zip(("measured", "verdict"), _y_usage(g, run_name)))}
            for (source, seed), g in runs.groupby(["source", "seed"], sort=True)]
    return pd.DataFrame(rows, columns=["source", "seed", "measured", "verdict"])


CLIPPED_RUN = "modified_m2_clip"
CLIPPING_RULE = (f"supported if our unclipped modified M2 turned NaN and every clipped run (same seeds) ran >= "
                 f"{NAN_TESTABLE_EPOCHS} epochs without NaN; not supported if a clipped run turned NaN; not testable "
                 f"if every run, clipped or not, ran >= {NAN_TESTABLE_EPOCHS} epochs without NaN (no NaN to prevent); "
                 f"else not reached")
HIGH_ACCURACY_RULE = (f"at epoch {STATEMENT_EPOCH}, at least {HIGH_SHARE:.3g} of the replicates above "
                      f"{HIGH_ACCURACY:.2f} test accuracy (the original's: at the last epoch of its logs that reach "
                      f"{LONG_RUN_EPOCHS}); before epoch {STATEMENT_EPOCH} not reached, the count shown")
SAME_SHARE_RULE = (f"Fisher's exact test on (above {HIGH_ACCURACY:.2f}, not above), ours against the original's "
                   f"replicates at our last common epoch: 'consistent' if p >= {SAME_AS_ORIGINAL_P} (no difference shown, "
                   f"which with a few runs a side is weak evidence), else 'different'")


def _runs_of(df: pd.DataFrame, run_name: str) -> pd.DataFrame:
    return df[df["run_name"] == run_name]


def _clipping_verdict(unclipped: pd.DataFrame, clipped: pd.DataFrame, what: str = "modified M2") -> tuple[str, str]:
    """(measured, verdict) of CLIPPING_RULE; ``what`` names the unclipped runs where there is no clipped one."""
    unclipped_nan, n_unclipped = _nan_epochs(unclipped), unclipped["seed"].nunique()
    if clipped.empty:  # no clipped run: not testable where the unclipped ones leave nothing to prevent
        if not unclipped_nan and _all_reached_the_test(unclipped):
            return (f"unclipped: {_nan_text(unclipped_nan, n_unclipped)} to epoch {int(unclipped['epoch'].max())}; "
                    "no NaN to prevent, so none clipped"), "not testable"
        return f"no log of {what} with clipped gradients", "not reached"
    clipped_nan, n_clipped = _nan_epochs(clipped), clipped["seed"].nunique()
    shortest = int(clipped.groupby("seed")["epoch"].max().min())
    measured = (f"unclipped: {_nan_text(unclipped_nan, n_unclipped)}; clipped: "
                f"{_nan_text(clipped_nan, n_clipped)}" + ("" if clipped_nan else f", shortest run {shortest} epochs")
                + _threshold_text(clipped))
    if clipped_nan:
        return measured, "not supported"
    if shortest >= NAN_TESTABLE_EPOCHS:
        if unclipped_nan:
            return measured, "supported"
        if _all_reached_the_test(unclipped):
            return measured, "not testable"
    return measured, "not reached"


def _all_reached_the_test(g: pd.DataFrame) -> bool:
    """Whether ``g`` has runs and each logged NAN_TESTABLE_EPOCHS epochs."""
    return bool(g.groupby("seed")["epoch"].max().min() >= NAN_TESTABLE_EPOCHS)  # False for no runs (NaN)


def _threshold_text(clipped: pd.DataFrame) -> str:
    """How often the clipped runs' gradients exceeded the threshold, from each epoch's largest norm before
    clipping: where they never did, clipping scaled every step by threshold * (1 / threshold), exactly 1 for the
    post profile's 480 (tests/test_train.py), and the runs are the unclipped ones."""
    if not {"grad_norm_max", "clip_norm"} <= set(clipped.columns):
        return ""
    logged = clipped[np.isfinite(clipped["grad_norm_max"].astype(float)) & np.isfinite(clipped["clip_norm"].astype(float))]
    if logged.empty:
        return ""
    exceeded = int((logged["grad_norm_max"] > logged["clip_norm"]).sum())
    return (f"; largest gradient norm {logged['grad_norm_max'].max():.0f} against the threshold "
            f"{logged['clip_norm'].min():.0f}: exceeded in {exceeded} of {len(logged)} epochs")


def _nan_epochs(g: pd.DataFrame) -> list[int]:
    return sorted(int(e) for e in g.groupby("seed")["nan_epoch"].first().dropna())


def _nan_text(nan_epochs: list[int], n: int) -> str:
    if not nan_epochs:
        return f"no NaN in {n} run{'s' if n != 1 else ''}"
    return f"NaN at epoch {', '.join(map(str, nan_epochs))} ({len(nan_epochs)} of {n} runs)"


def accuracies_at(g: pd.DataFrame, epoch: int) -> np.ndarray:
    """Each replicate's finite test accuracy at ``epoch`` (replicates without one there left out)."""
    values = g.loc[g["epoch"] == epoch, "test_accuracy"].astype(float)
    return values[np.isfinite(values)].to_numpy()


def common_epoch(g: pd.DataFrame) -> int | None:
    """The last epoch at which every replicate of ``g`` has a finite accuracy."""
    finite = g[np.isfinite(g["test_accuracy"].astype(float))]
    if finite.empty:
        return None
    return int(finite.groupby("seed")["epoch"].max().min())


def _count_above(values: np.ndarray) -> str:
    return f"{int((values > HIGH_ACCURACY).sum())} of {len(values)}"


def _high_accuracy_verdict(g: pd.DataFrame) -> tuple[str, str]:
    """(measured, verdict) of HIGH_ACCURACY_RULE on our logs."""
    epoch = common_epoch(g)
    if epoch is None:
        return "no log of GMVAE", "not reached"
    values = accuracies_at(g, epoch)
    measured = f"{_count_above(values)} above {HIGH_ACCURACY:.2f} at epoch {epoch}"
    if epoch < STATEMENT_EPOCH:
        return measured, "not reached"
    return measured, "supported" if (values > HIGH_ACCURACY).mean() >= HIGH_SHARE else "not supported"


def long_run_finals(g: pd.DataFrame) -> pd.DataFrame:
    """The last finite row of each replicate whose log reaches LONG_RUN_EPOCHS (the original's long runs)."""
    finite = g[np.isfinite(g["test_accuracy"].astype(float))].sort_values("epoch")
    last = finite.groupby("seed").tail(1)
    return last[last["epoch"] >= LONG_RUN_EPOCHS]


def _original_high_accuracy(g: pd.DataFrame) -> tuple[str, str]:
    """(measured, verdict) of HIGH_ACCURACY_RULE on the original's logs: at the last finite epoch of each log that
    reaches LONG_RUN_EPOCHS, with the counts at ORIGINAL_CHECK_EPOCHS beside it."""
    long_runs = long_run_finals(g)
    if long_runs.empty:
        return f"no original GMVAE log reaches epoch {LONG_RUN_EPOCHS}", "not reached"
    values = long_runs["test_accuracy"].to_numpy()
    epochs = f"{int(long_runs['epoch'].min())}-{int(long_runs['epoch'].max())}"
    checks = "; ".join(f"epoch {e}: {_count_above(accuracies_at(g, e))}" for e in ORIGINAL_CHECK_EPOCHS)
    measured = f"last logged epoch ({epochs}): {_count_above(values)} above {HIGH_ACCURACY:.2f}; {checks}"
    return measured, "supported" if (values > HIGH_ACCURACY).mean() >= HIGH_SHARE else "not supported"


def _same_share_verdict(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[str, str]:
    """(measured, verdict) of SAME_SHARE_RULE."""
    epoch = common_epoch(ours)
    if epoch is None:
        return "no log of GMVAE", "not reached"
    mine, original = accuracies_at(ours, epoch), accuracies_at(theirs, epoch)
    if len(original) == 0:
        return f"no original GMVAE log reaches epoch {epoch}", "not reached"
    table = [[int((v > HIGH_ACCURACY).sum()), int((v <= HIGH_ACCURACY).sum())] for v in (mine, original)]
    p_value = scipy.stats.fisher_exact(table).pvalue
    measured = (f"epoch {epoch}: ours {_count_above(mine)}, the original's {_count_above(original)} above "
                f"{HIGH_ACCURACY:.2f}; Fisher p = {p_value:.3f}")
    return measured, "consistent" if p_value >= SAME_AS_ORIGINAL_P else "different"


INSIDE_RULE = ("at our last epoch, or at the last that most of the original's runs logged if earlier: every run's "
               "test accuracy, H(y|x) and loss within the original's min-max over its runs at that epoch, each edge "
               "widened by half a unit of the digit it logged (fidelity table)")


def _nan_verdict(g: pd.DataFrame) -> tuple[str, str]:
    """(measured, verdict) of the NaN claim on one model's logs (ours or the original's)."""
    nan_epochs = _nan_epochs(g)
    last = int(g["epoch"].max())
    n = g["seed"].nunique()
    if nan_epochs:
        return _nan_text(nan_epochs, n), "supported" if min(nan_epochs) >= NAN_EARLIEST else "not supported"
    measured = f"no NaN in {n} run{'s' if n != 1 else ''} up to epoch {last}"
    return measured, "not supported" if last >= NAN_TESTABLE_EPOCHS else "not reached"


def _inside_verdict(fidelity: pd.DataFrame, run_name: str) -> tuple[str, str]:
    """(measured, verdict): is every seed of ours inside the original's range at the last compared epoch?"""
    rows = fidelity[(fidelity["run_name"] == run_name) & fidelity["run"].str.startswith("seed")]
    if rows.empty:
        return "no epoch that both ours and the original logged", "not reached"
    epoch = int(rows["epoch"].max())
    rows = rows[rows["epoch"] == epoch]
    outside = rows[~rows["inside"]]
    if outside.empty:
        return f"epoch {epoch}: all {len(rows)} values inside", "supported"
    described = "; ".join(f"{r['metric']} {r['run']} {format_value(r['metric'], r['ours'])} outside "
                          f"{format_value(r['metric'], r['low'])}-{format_value(r['metric'], r['high'])}"
                          for _, r in outside.iterrows())
    return f"epoch {epoch}: {described}", "not supported"
