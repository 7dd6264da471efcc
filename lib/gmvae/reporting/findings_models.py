"""The findings page's sections on each of the post's models (gmvae.reporting.findings): GMVAE, modified M2, modified
M2 with clipped gradients and its threshold, modified M2 in float32, M2. Each number comes from the logs or the
tables in :class:`Facts`, and each sentence whose truth depends on them is chosen from them.
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from gmvae import runs
from gmvae.reporting import claims as rules
from gmvae.reporting.drift import DRIFT_RUNS, FLOAT32_TINY, closest_approach, what_is_left
from gmvae.reporting.findings_facts import (CLIPPED, CLIPPING_CLAIM, COLLAPSED_BELOW, NAN_CLAIM, Facts, at_epoch, join,
                                            logged, p_text, quoted, seeds_text, spread, words)
from gmvae.reporting.fidelity import format_value
from gmvae.reporting.original import half_unit
from gmvae.reporting.plots import MNIST_TEST_MAJORITY_RATE
from gmvae.reproduction.profiles import CLIP_FACTOR, CLIP_RULE_EPOCHS, clipping_threshold


def gmvae_section(facts: Facts, epoch: int) -> str:
    g, theirs = facts.runs_of("gmvae"), facts.original[facts.original["run_name"] == "gmvae"]
    if g.empty:
        return ""
    accuracy, entropy, loss = (at_epoch(g, epoch, c) for c in ("test_accuracy", "test_entropy", "test_loss"))
    n = len(accuracy)
    above = int((accuracy > rules.HIGH_ACCURACY).sum())
    text = [f"### GMVAE, {words(n)} replicate{'s' if n != 1 else ''}\n",
            f"Test accuracy at epoch {epoch} {join(f'{v:.3f}' for v in accuracy)} (mean {spread(accuracy, 4)}; "
            f"H(y|x) {spread(entropy, 3)} nats; loss {spread(loss, 2)}), {words(above)} of {words(n)} above "
            f"{rules.HIGH_ACCURACY:.0%}".replace("%", " %")]
    theirs_at = rules.accuracies_at(theirs, epoch)
    if len(theirs_at):
        finals = rules.long_run_finals(theirs)["test_accuracy"].to_numpy()
        last = (f" (and {words(int((finals > rules.HIGH_ACCURACY).sum()))} of {words(len(finals))} at its last epoch)"
                if len(finals) else "")
        table = [[int((v > rules.HIGH_ACCURACY).sum()), int((v <= rules.HIGH_ACCURACY).sum())]
                 for v in (accuracy.to_numpy(), theirs_at)]
        p = scipy.stats.fisher_exact(table).pvalue
        text[-1] += (f", where the original has {words(int((theirs_at > rules.HIGH_ACCURACY).sum()))} of "
                     f"{words(len(theirs_at))} at epoch {epoch}{last}: Fisher p = {p:.3f}, "
                     + ("no difference shown" if p >= rules.SAME_AS_ORIGINAL_P else "a different share"))
    text[-1] += ".\n"
    text.append(gmvae_distributions(facts, epoch))
    text.append(gmvae_outside(facts, epoch, theirs))
    return "\n".join(t for t in text if t)


def gmvae_distributions(facts: Facts, epoch: int) -> str:
    d = facts.distributions
    rows = d[(d["source"] == "ours") & (d["run_name"] == "gmvae")]
    if rows.empty:
        return ""
    link = f"[`{facts.results_name('fidelity_distributions.md')}`]({facts.results_link('fidelity_distributions.md')})"
    epochs = sorted(rows["epoch"].unique())
    span = f"epochs {epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"
    covers = (rows["ci95_low"] <= 0) & (rows["ci95_high"] >= 0)
    at = rows[rows["epoch"] == epoch].set_index("metric")

    def difference(metric):
        r, digits = at.loc[metric], 3 if metric != "loss" else 2
        return f"{metric} {r['difference']:+.{digits}f} [{r['ci95_low']:.{digits}f}, {r['ci95_high']:.{digits}f}]"

    text = (f"As distributions ({link}), " +
            (f"every difference of means at {span} has a 95 % Welch interval that includes zero" if covers.all()
             else "the 95 % Welch interval of the difference of means excludes zero for " +
             join(f"{r['metric']} at epoch {r['epoch']}" for _, r in rows[~covers].iterrows()))
            + f" (at {epoch}: {join(difference(m) for m in ('accuracy', 'loss') if m in at.index)})")
    verdicts = set(rows["verdict"])
    closest = rows.loc[rows["tost_p"].idxmin()]
    if verdicts == {"undecided"}:
        text += (', and every verdict is "undecided": none is shown "equivalent" either (the equivalence test '
                 "against plus or minus the original's between-run standard deviation comes closest for the "
                 f"{closest['metric']} at epoch {closest['epoch']}, p = {closest['tost_p']:.3f})")
    else:
        text += "; verdicts: " + join(f"{r['metric']} at {r['epoch']} {quoted(r['verdict'])}"
                                      for _, r in rows[rows["verdict"] != "undecided"].iterrows()) + ", else undecided"
    if {"accuracy", "loss"} <= set(at.index):
        n, m = int(at.loc["accuracy", "ours_n"]), int(at.loc["accuracy", "original_n"])
        a_side = f"{words(n).capitalize()} runs a side" if n == m else f"{words(n).capitalize()} runs against {words(m)}"
        text += (f". {a_side} are too few to tell: at {epoch}, the smallest difference the rule would call "
                 f'"different" with 80 % power is {at.loc["accuracy", "detectable_difference"]:.3f} in accuracy and '
                 f"{at.loc['loss', 'detectable_difference']:.2f} nats in loss")
    return text + ".\n"


def outside_phrases(facts: Facts, run_name: str, epoch: int) -> list[str]:
    """Our values outside the original's widened min-max at ``epoch``, one phrase per metric."""
    f = facts.fidelity
    rows = f[(f["source"] == "ours") & (f["run_name"] == run_name) & (f["epoch"] == epoch)
             & f["run"].str.startswith("seed") & ~f["inside"].astype(bool)]
    phrases = []
    for metric, group in rows.groupby("metric", sort=False):
        seeds = [int(r.split()[1]) for r in group["run"]]
        if len(group) == 1:
            r = group.iloc[0]
            bound = (f"at most {format_value(metric, r['high'])}" if r["ours"] > r["high"]
                     else f"at least {format_value(metric, r['low'])}")
            phrases.append(f"seed {seeds[0]}'s {metric} ({format_value(metric, r['ours'])} against {bound})")
        else:
            phrases.append(f"{metric} of {seeds_text(seeds)}")
    return phrases


def gmvae_outside(facts: Facts, epoch: int, theirs: pd.DataFrame) -> str:
    if theirs.empty:
        return ""
    phrases = outside_phrases(facts, "gmvae", epoch)
    text = (f"Against the original's min-max at {epoch}, " +
            (f"{join(phrases)} lie{'s' if len(phrases) == 1 and ' of seeds ' not in phrases[0] else ''} outside it"
             if phrases else "every value of ours lies inside it"))
    at = facts.distribution("gmvae", "accuracy", epoch)
    if len(at):
        wider, narrower = [], []
        for metric, digits in (("accuracy", 3), ("H(y|x)", 3), ("loss", 2)):
            r = facts.distribution("gmvae", metric, epoch).iloc[0]
            pair = f"{r['ours_sd']:.{digits}f} against {r['original_sd']:.{digits}f}"
            (wider if r["ours_sd"] > r["original_sd"] else narrower).append((metric, pair))
        said = []
        if wider:
            said.append(f"our {join(m for m, _ in wider)} spread{'s' if len(wider) == 1 else ''} wider than the "
                        f"original's (sd {', '.join(p for _, p in wider)})")
        if narrower:
            said.append(f"our {join(m for m, _ in narrower)} {'less' if wider else 'less than the original'}"
                        f" (sd {', '.join(p for _, p in narrower)})")
        text += ": " + ", ".join(said)
    reach = theirs.groupby("seed")["epoch"].max()
    text += (f". The original has {words(len(reach))} GMVAE logs; {words(int((reach >= epoch).sum()))} reach "
             f"epoch {epoch}.\n")
    return text


def worse_than_every_original(mine: pd.Series, theirs_wide: pd.DataFrame) -> tuple[int, int] | None:
    """(first, last) of the epochs up to the original's last finite one at which ``mine`` lies below the original's
    widened minimum at every epoch from ``first`` on; None if not even at that last epoch."""
    minimum = theirs_wide.min(axis=1).dropna()
    low = minimum - minimum.map(half_unit)
    last = int(low.index.max())
    below = (mine.reindex(low.index) < low).loc[:last]
    if not below.iloc[-1]:
        return None
    not_below = below.index[~below.to_numpy()]
    return (int(not_below.max()) + 1 if len(not_below) else int(below.index.min())), last


def modified_m2_section(facts: Facts, epoch: int) -> str:
    g, theirs = facts.runs_of("modified_m2"), facts.original[facts.original["run_name"] == "modified_m2"]
    if g.empty:
        return ""
    n = g["seed"].nunique()
    ours_nan = sorted(int(e) for e in g.groupby("seed")["nan_epoch"].first().dropna())
    text = ([f"### Modified M2, {words(n)} seed{'s' if n != 1 else ''}\n",
             (f"No NaN in {int(g.groupby('seed')['epoch'].max().min())} epochs" if not ours_nan
              else f"NaN at epoch {join(map(str, ours_nan))}")])
    theirs_nan = sorted(int(e) for e in theirs.groupby("seed")["nan_epoch"].first().dropna())
    if len(theirs):
        n_theirs = theirs["seed"].nunique()
        who = (f"each of the original's {words(n_theirs)} runs" if len(theirs_nan) == n_theirs
               else f"{words(len(theirs_nan))} of the original's {words(n_theirs)} runs")
        text[-1] += (f", where {who} turns NaN between epochs {theirs_nan[0]} and {theirs_nan[-1]}" if len(theirs_nan) > 1
                     else f", where {who} turns NaN at epoch {theirs_nan[0]}" if theirs_nan
                     else ", where none of the original's runs turns NaN")
    text[-1] += f', so the NaN statement is {quoted(facts.verdict(NAN_CLAIM))}.'
    accuracy = at_epoch(g, epoch, "test_accuracy")
    r = facts.distribution("modified_m2", "accuracy", epoch)
    sentence = f" Accuracy at {epoch} {join(f'{v:.3f}' for v in accuracy)}" + (
        f" ({spread(accuracy, 4)})" if len(accuracy) > 1 else "")
    if len(r):
        r = r.iloc[0]
        sentence += (f", {quoted(r['verdict'])} against the original's {r['original_mean']:.4f} ± {r['original_sd']:.4f}"
                     f" ({words(int(r['ours_n']))} runs against {words(int(r['original_n']))} would detect only a "
                     f"difference of {r['detectable_difference']:.3f} with 80 % power)")
    text[-1] += sentence
    if len(theirs):
        wide = theirs.pivot_table(index="epoch", columns="seed", values="test_accuracy")
        worse = {int(s): worse_than_every_original(s_g.set_index("epoch")["test_accuracy"], wide)
                 for s, s_g in g.groupby("seed")}
        worse = {s: span for s, span in worse.items() if span}
        if worse:
            ordered = sorted(worse.items(), key=lambda item: item[1][0])
            first = "clusters worse than any of the original's runs at every epoch "
            text[-1] += (": " + join(f"seed {s} {first if i == 0 else ''}from {a} to {b}"
                                     for i, (s, (a, b)) in enumerate(ordered))
                         + ", the last at which one of them is not NaN")
    text[-1] += "."
    verdicts = {m: set(facts.distribution("modified_m2", m)["verdict"]) for m in ("H(y|x)", "loss")}
    if all(len(v) == 1 for v in verdicts.values()):
        if verdicts["H(y|x)"] == verdicts["loss"]:
            text[-1] += f" H(y|x) and the loss are {quoted(verdicts['loss'].pop())} at every epoch compared."
        else:
            text[-1] += " " + " ".join(f"{m}: {quoted(v.pop())} at every epoch compared." for m, v in verdicts.items())
    loss = facts.distribution("modified_m2", "loss", epoch)
    if len(loss):
        r = loss.iloc[0]
        floor = 2 / comb(int(r["ours_n"]) + int(r["original_n"]), int(r["ours_n"]))
        text[-1] += (f" At {epoch} the loss is {'lower' if r['difference'] < 0 else 'higher'} by "
                     f"{abs(r['difference']):.2f} nats, with a 95 % Welch interval [{r['ci95_low']:.2f}, "
                     f"{r['ci95_high']:.2f}] and Welch's p = {p_text(r['welch_p'])} (the permutation test, which with "
                     f"{words(int(r['ours_n']))} runs against {words(int(r['original_n']))} cannot go below "
                     f"p = {floor:.3g}, gives {r['permutation_p']:.3g}); the smallest difference detectable with 80 % "
                     f"power there is {r['detectable_difference']:.2f} nats.")
    return "\n".join(text) + "\n"


def equal_but_seconds(unclipped: pd.DataFrame, clipped: pd.DataFrame) -> bool:
    """Whether two runs' logs hold the same epochs and the same value in every logged column but the seconds."""
    columns = [c for c in runs.LOG_COLUMNS if c != "seconds"]
    a, b = (g.sort_values("epoch")[columns].reset_index(drop=True) for g in (unclipped, clipped))
    return a.shape == b.shape and bool(((a == b) | (a.isna() & b.isna())).all().all())


def commit_of(results_dir: Path, run_name: str, seed: int) -> str | None:
    record = runs.read_record(runs.run_dir(results_dir, run_name, seed)) or {}
    return (record.get("provenance") or {}).get("git_commit")


def clipped_section(facts: Facts) -> str:
    clipped, unclipped = facts.runs_of(CLIPPED), facts.runs_of("modified_m2")
    if clipped.empty:
        return ""
    seeds = sorted(int(s) for s in clipped["seed"].unique())
    pairs = {s: (unclipped[unclipped["seed"] == s], clipped[clipped["seed"] == s]) for s in seeds}
    equal = [s for s, (a, b) in pairs.items() if len(a) and equal_but_seconds(a, b)]
    epochs = int(clipped.groupby("seed")["epoch"].max().min())
    if len(equal) == len(seeds):
        text = f"Each log equals the unclipped run's of the same seed in every column but the seconds, all {epochs} epochs"
        commits = {(commit_of(facts.results_dir, "modified_m2", s), commit_of(facts.results_dir, CLIPPED, s))
                   for s in seeds}
        if all(a and b and a != b for a, b in commits):
            text += ", though the two of each pair come from different commits"
        text += "."
    else:
        differ = [s for s in seeds if s not in equal]
        text = f"The logs of {seeds_text(differ)} differ from the unclipped runs' of the same seeds."
    largest = clipped.groupby("seed")["grad_norm_max"].max()
    same = all(len(pairs[s][0]) and np.isclose(pairs[s][0]["grad_norm_max"].max(), largest[s]) for s in seeds)
    threshold = float(clipped["clip_norm"].min())
    exceeded = int((clipped["grad_norm_max"] > clipped["clip_norm"]).sum())
    text += (f" The largest gradient norm of each clipped run, {join(f'{largest[s]:.0f} (seed {s})' for s in seeds)}, "
             + ("is that of the unclipped run of its seed" if same else "differs from the unclipped run's")
             + f"; the largest in their {len(clipped)} epochs, {largest.max():.0f}, "
             + (f"never reaches the threshold, {threshold:.0f}, so clipping changes no step" if not exceeded else
                f"exceeds the threshold, {threshold:.0f}, in {exceeded} epochs"))
    verdict = facts.verdict(CLIPPING_CLAIM)
    text += (". With no NaN to prevent, the post's conjecture that clipping would prevent it is "
             f"{quoted(verdict)} here." if verdict == "not testable" else f". The post's conjecture: {quoted(verdict)}.")
    return f"### Modified M2 with clipped gradients, {seeds_text(seeds)}\n\n{text}\n\n{threshold_paragraph(facts, threshold)}"


def float32_section(facts: Facts) -> str:
    """The nan profile's runs: whether they turn NaN, how close their variances come to float32's smallest normal
    number (gmvae.reporting.drift), and, where none turns NaN, what is left between them and the original."""
    present = [name for name in DRIFT_RUNS if len(facts.runs_of(name))]
    if not present:
        return ""
    closest = closest_approach(pd.concat([facts.runs_of(name) for name in present]))
    link = facts.docs_link("docs/nan.md", "nan.md")
    parts = []
    for name, r in closest.iterrows():
        happened = (f"NaN at epoch {join(map(str, r.nan_epochs))}" if r.nan_epochs else "no NaN")
        smallest, which = min((r.q_z_var_min, "q(z|x,y)'s"), (r.decoder_var_min, "the decoder's v(y)"))
        parts.append(f"{rules.NAN_STUDY_RUNS[name]}, {words(r.runs)} run{'s' if r.runs != 1 else ''} to epoch "
                     f"{r.last_epoch}: {happened}, the smallest variance {smallest:.1e} ({which}), "
                     f"{r.orders_above_normal:.0f} orders of magnitude above float32's smallest normal number")
    text = (f"The `nan` profile trains the modified M2 in float32, the original's precision ({link}): "
            + "; ".join(parts) + f". Below that number, {FLOAT32_TINY:.1e}, a variance is 0 in TensorFlow's CPU "
            "kernels, and the original's loss meets log 0 and a division by 0.")
    log_q_y = closest["log_q_y_min"].min()
    if log_q_y < np.log(FLOAT32_TINY):
        text += (f" Some classes' q(y|x) is exactly 0 in float32 (the smallest log q(y|x), {log_q_y:.0f}, is below "
                 f"{np.log(FLOAT32_TINY):.1f}); in the loss that weighs each class's term by q(y|x), a 0 makes a "
                 "NaN only against an infinite term, which needs a variance of 0.")
    left = what_is_left(closest)
    text += f" {left}" if left else ""
    verdicts = {rules.NAN_STUDY_RUNS[name]: facts.verdict(f"{CLIPPING_CLAIM}, {rules.NAN_STUDY_RUNS[name]}")
                for name in present}
    verdicts = {numerics: verdict for numerics, verdict in verdicts.items() if verdict}
    if len(set(verdicts.values())) == 1:
        text += f" The clipping conjecture on these runs: {quoted(next(iter(verdicts.values())))}."
    elif verdicts:
        text += f" The clipping conjecture: {join(f'{quoted(v)} on {n}' for n, v in verdicts.items())}."
    return f"### Modified M2 in float32\n\n{text}\n"


def threshold_paragraph(facts: Facts, threshold: float) -> str:
    """How the clipping threshold follows from the run of results/clip_norm/."""
    folder = facts.results_dir / "clip_norm"
    log = runs.read_log(runs.run_dir(folder, "modified_m2", 0))
    if log.empty:
        return ""
    first = log[log["epoch"] <= CLIP_RULE_EPOCHS].sort_values("epoch")
    medians, largest = first["grad_norm_median"], first["grad_norm_max"]
    rule = clipping_threshold(medians)
    factor = words(CLIP_FACTOR)
    link = f"[`{facts.results_name('clip_norm')}/`]({facts.results_link('clip_norm/README.md')})"
    move = "rise" if medians.iloc[-1] > medians.iloc[0] else "fall"
    agrees = ("" if rule == threshold else
              f" That rule gives {rule:.0f} on this log, not the {threshold:.0f} the clipped runs used.")
    return (f"**The threshold.** {threshold:.0f} is {factor} times the median over unclipped seed 0's first "
            f"{CLIP_RULE_EPOCHS} epochs of each epoch's median gradient norm ({np.median(medians):.1f}), to two "
            f"significant digits, so that clipping cuts only the spikes the post suspects. Those {CLIP_RULE_EPOCHS} "
            f"epochs are a run of their own, trained before the clipped ones ({link}: the run and its command): "
            f"their medians {move} from {medians.iloc[0]:.1f} in epoch 1 to {medians.iloc[-1]:.1f} in epoch "
            f"{CLIP_RULE_EPOCHS}, and each epoch's largest norm is {largest.min():.0f} to {largest.max():.0f}, so "
            f"{threshold:.0f} cuts only steps at least {threshold / largest.max():.1f} times larger than any seen in "
            f"these epochs.{agrees} The rule is `gmvae.reproduction.profiles.clipping_threshold`, the number "
            "`CLIP_NORM` there; `tests/test_profiles.py` checks the number against that log.\n")


def collapse_epochs(g: pd.DataFrame) -> dict[int, tuple[int, float, float]]:
    """Per seed: (the first epoch from which the accuracy stays below COLLAPSED_BELOW, and the accuracy's min and
    max from there on); seeds that end above it left out."""
    found = {}
    for seed, s in g.groupby("seed"):
        a = s.set_index("epoch")["test_accuracy"].dropna().sort_index()
        above = a.index[a >= COLLAPSED_BELOW]
        start = int(above.max()) + 1 if len(above) else int(a.index.min())
        if start <= a.index.max():
            after = a.loc[start:]
            found[int(seed)] = (start, float(after.min()), float(after.max()))
    return found


def m2_section(facts: Facts, epoch: int) -> str:
    g = facts.runs_of("m2")
    if g.empty:
        return ""
    entropy, information, loss = (at_epoch(g, epoch, c) for c in ("test_entropy", "test_mutual_information", "test_loss"))
    uniform = facts.verdict("M2's q(y|x) becomes uniform") == "supported"
    collapsed = collapse_epochs(g)
    low, high = (min(v[1] for v in collapsed.values()), max(v[2] for v in collapsed.values())) if collapsed else (0, 0)
    rate = (f"accuracy below {COLLAPSED_BELOW:.4f}, the most the original's logged {logged(MNIST_TEST_MAJORITY_RATE)} "
            f"stands for, from epoch {join(str(v[0]) for v in collapsed.values())} on for "
            f"{seeds_text(collapsed)} ({low:.4f} to {high:.4f})" if collapsed else "accuracy never at it")
    lowest = facts.verdict("M2 reaches the lowest variational loss") == "supported"
    text = (f"### M2, {seeds_text(g['seed'].unique())}\n\n"
            f"q(y|x) {'uniform' if uniform else 'not uniform'} (H(y|x) {entropy.mean():.4f} nats, I(x; y) "
            f"{information.mean():.3f} nats, {rate}) and {'the lowest loss of the three' if lowest else 'a loss'}: "
            f"{join(f'{v:.2f}' for v in loss)} at {epoch}.")
    f = facts.fidelity
    rows = f[(f["source"] == "ours") & (f["run_name"] == "m2") & (f["epoch"] == epoch) & (f["metric"] == "loss")
             & f["run"].str.startswith("seed")]
    if len(rows):
        r0 = rows.iloc[0]
        band = (f"the original's {logged(r0['original_min'])} to {logged(r0['original_max'])}{{}} widened by half a "
                f"unit of the last digit its logs keep ({r0['low']:.2f} to {r0['high']:.2f})")
        out = rows[~rows["inside"].astype(bool)]
        below = [int(r.split()[1]) for r in out.loc[out["ours"] < out["low"], "run"]]
        beyond = [int(r.split()[1]) for r in out.loc[out["ours"] > out["high"], "run"]]
        said = ([f"{seeds_text(below)}'s {'is' if len(below) == 1 else 'are'} below"] if below else []) + \
               ([f"{seeds_text(beyond)}'s {'' if below else 'is ' if len(beyond) == 1 else 'are '}above"] if beyond else [])
        said = " and ".join(said)
        inside = f"{'It lies' if len(rows) == 1 else 'Each lies'} inside {band.format(',')}"
        text += " " + (f"{said[0].upper()}{said[1:]} {band.format(' even')}" if said else inside) + "."
    return "\n\n".join(t for t in (text, m2_distributions(facts, epoch).rstrip("\n")) if t) + "\n"


def m2_distributions(facts: Facts, epoch: int) -> str:
    loss = facts.distribution("m2", "loss", epoch)
    if loss.empty:
        return ""
    r = loss.iloc[0]
    floor = 2 / comb(int(r["ours_n"]) + int(r["original_n"]), int(r["ours_n"]))
    text = (f"As distributions, {abs(r['difference']):.2f} nats {'below' if r['difference'] < 0 else 'above'} the "
            f"original's mean ({r['ours_mean']:.2f} ± {r['ours_sd']:.2f} against {r['original_mean']:.2f} ± "
            f"{r['original_sd']:.2f}; 95 % Welch interval [{r['ci95_low']:.2f}, {r['ci95_high']:.2f}], p = "
            f"{p_text(r['welch_p'])}, {quoted(r['verdict'])}, with {r['detectable_difference']:.2f} nats the smallest "
            f"difference detectable at 80 % power; permutation p = {r['permutation_p']:.3f}, where "
            f"{words(int(r['ours_n']))} runs against {words(int(r['original_n']))} allow no less than {floor:.3f}).")
    entropy = facts.distribution("m2", "H(y|x)")
    if len(entropy) and set(entropy["verdict"]) == {"equivalent"}:
        e = entropy[entropy["epoch"] == epoch].iloc[0]
        margin = ("half a logged unit" if np.isclose(e["margin"], e["resolution"]) else
                  "the original's between-run standard deviation")
        text += (f' H(y|x) is "equivalent" to the original\'s at every epoch compared ({e["ours_mean"]:.4f} against '
                 f"its logged {logged(e['original_mean'])}, within the margin of {margin}, {e['margin']:.3g}).")
    accuracy = facts.distribution("m2", "accuracy")
    if len(accuracy):
        verdicts = set(accuracy["verdict"])
        text += (f" The accuracy is {quoted(verdicts.pop())} at each of them." if len(verdicts) == 1 else
                 " The accuracy: " + join(f"{quoted(v)} at {e}" for e, v in zip(accuracy["epoch"], accuracy["verdict"])) + ".")
        text += rounding_gap(accuracy)
    return text + "\n"


def rounding_gap(accuracy: pd.DataFrame) -> str:
    """M2's accuracy against the original's: where neither side varies and the gap is the original's half unit, why
    that is neither "different" nor "equivalent"; where ours varies, whether the interval reaches the half unit."""
    constant = accuracy[(accuracy["ours_sd"] == 0) & (accuracy["original_sd"] == 0)
                        & np.isclose(accuracy["difference"].abs(), accuracy["resolution"])]
    text = ""
    if len(constant):
        r = constant.iloc[0]
        low, high = r["original_mean"] - r["resolution"], r["original_mean"] + r["resolution"]
        text += (f" At epoch{'s' if len(constant) > 1 else ''} {join(map(str, constant['epoch']))} every run of ours "
                 f"logs {r['ours_mean']:.4f} and every run of the original {logged(r['original_mean'])}: a gap of "
                 f"{r['resolution']:.4g}, half a unit of the digit the original logged (its {logged(r['original_mean'])} "
                 f"stands for {low:.4f} to {high:.4f}), so within its rounding and not \"different\", although with no "
                 f"spread on either side Welch's p is 0 (the permutation test gives {r['permutation_p']:.3f}, as low as "
                 f"{words(int(r['ours_n']))} runs against {words(int(r['original_n']))} allow); and on the edge of the "
                 f"margin, itself half a unit, where the equivalence test's p is 1/2, so not \"equivalent\" either.")
    for _, r in accuracy[~accuracy.index.isin(constant.index) & (accuracy["verdict"] == "undecided")].iterrows():
        reaches = r["ci95_low"] <= r["resolution"] and r["ci95_high"] >= -r["resolution"]
        text += (f" At epoch {r['epoch']} (ours {r['ours_mean']:.4f} ± {r['ours_sd']:.4f}) the 95 % Welch interval, "
                 f"[{r['ci95_low']:.4f}, {r['ci95_high']:.4f}], {'reaches into' if reaches else 'lies beyond'} the half unit.")
    return text
