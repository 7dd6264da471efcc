"""The findings page: every number behind the verdicts, model by model, written by `make figures` from the tables
it has just written (claims.csv, fidelity.csv, fidelity_distributions.csv, training_time.csv) and from the logs
(our runs, the original's, the clipping threshold's run, the earlier float32 runs), so that it cannot drift from
them. A sentence whose truth depends on the numbers is chosen here from the numbers.

The repository's results/ writes docs/findings.md (:func:`findings_path`); any other results folder writes
findings.md inside it. pandas and SciPy only: no TensorFlow.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from gmvae import runs
from gmvae.reporting import claims as rules
from gmvae.reporting.fidelity import COLUMNS as FIDELITY_COLUMNS
from gmvae.reporting.fidelity import DISTRIBUTION_COLUMNS, DISTRIBUTION_EPOCHS, format_value
from gmvae.reporting.original import half_unit
from gmvae.reporting.plots import MNIST_TEST_MAJORITY_RATE, label, load_runs
from gmvae.reporting.tables import README_CLAIMS_START, RUN_TABLE_EPOCHS
from gmvae.reproduction.pipeline import EARLIER, load_profile_runs
from gmvae.reproduction.profiles import CLIP_FACTOR, CLIP_RULE_EPOCHS, PROFILES, clipping_threshold

MODELS = ("m2", "modified_m2", "gmvae")
CLIPPED, OPEN_QUESTION = rules.CLIPPED_RUN, ("m2_iaf", "m2_eta0")
SHORT_PROFILE = "cpu"  # the profile whose runs are the first epochs of the post profile's
# the post's claims about clustering and the loss, by claims.csv's claim, with the words the page gives them
ORDER_CLAIMS = {
    "M2's q(y|x) becomes uniform": "M2's q(y|x) goes uniform",
    "M2's cluster accuracy falls to the majority-class rate": "M2's accuracy falls to the majority-class rate",
    "Modified M2 clusters far better than M2": "modified M2 clusters far better than M2",
    "GMVAE clusters best": "the GMVAE clusters best",
    "M2 reaches the lowest variational loss": "M2 reaches the lowest loss",
    "Modified M2 has the highest variational loss": "modified M2 the highest",
}
NAN_CLAIM = "Modified M2 turns NaN after a few hundred epochs"
CLIPPING_CLAIM = "Clipping the gradients would prevent the NaN"
HIGH_ACCURACY_CLAIM = "By epoch 1000, five of six GMVAE replicates are above 80 % accuracy"
# M2's accuracy is "at the majority-class rate" once it stays below what the original's logged 0.114 stands for
COLLAPSED_BELOW = MNIST_TEST_MAJORITY_RATE + 2 * half_unit(MNIST_TEST_MAJORITY_RATE)
EARLIER_FLOAT32 = (f"{EARLIER}/tfp_bernoulli_float32", f"{EARLIER}/seed_spread")  # float32, TFP's Bernoulli
GENERATED_NOTE = ("<!-- Written by `make figures` (gmvae.reporting.findings) from the logs and tables; "
                  "edit the generator, not this page. -->")
# how the page names a run (the three models by their labels, others by the run name notebooks use)
NAMES = {"m2": "M2", "modified_m2": "modified M2", "gmvae": "GMVAE", CLIPPED: "modified M2 with clipped gradients",
         "m2_iaf": "notebook 05's `m2_iaf`", "m2_eta0": "notebook 05's `m2_eta0`"}
POSSESSIVE = {"m2": "M2's", "modified_m2": "modified M2's", "gmvae": "the GMVAE's"}
WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


# --------------------------------------------------------------------------------------------- words


def words(n: int) -> str:
    """A count as a word up to twelve, else in digits."""
    return WORDS[n] if 0 <= n < len(WORDS) else f"{n:,}"


def join(items) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def seeds_text(seeds) -> str:
    """'seed 2', 'seeds 0-5' (consecutive), 'seeds 0, 1, 3 and 5'."""
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + join(map(str, seeds))


def spread(values, digits: int) -> str:
    """'mean ± sd' of a sample (sd with ddof 1); one value alone."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def logged(value: float) -> str:
    """A value of the original's logs as it logged it (three significant digits)."""
    return f"{value:#.3g}"


def p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def quoted(verdict: str) -> str:
    return f'"{verdict}"'


# --------------------------------------------------------------------------------------------- data


@dataclass
class Facts:
    """What the page is written from: our logs, the original's, the tables and the links of the page's place."""
    results_dir: Path
    ours: pd.DataFrame
    original: pd.DataFrame
    claims: pd.DataFrame
    distributions: pd.DataFrame
    fidelity: pd.DataFrame
    times: pd.DataFrame
    in_repository: bool

    def results_link(self, name: str) -> str:
        return f"../results/{name}" if self.in_repository else name

    def results_name(self, name: str) -> str:
        return f"results/{name}" if self.in_repository else name

    def docs_link(self, text: str, page: str) -> str:
        """A link to a page of docs/ where the page sits beside it; the words alone elsewhere."""
        return f"[{text}]({page})" if self.in_repository else text

    def verdict(self, claim: str) -> str | None:
        rows = self.claims.loc[self.claims["claim"] == claim, "verdict"]
        return rows.iloc[0] if len(rows) else None

    def runs_of(self, run_name: str) -> pd.DataFrame:
        return self.ours[self.ours["run_name"] == run_name] if len(self.ours) else self.ours

    def distribution(self, run_name: str, metric: str, epoch: int | None = None) -> pd.DataFrame:
        d = self.distributions
        rows = d[(d["source"] == "ours") & (d["run_name"] == run_name) & (d["metric"] == metric)]
        return rows if epoch is None else rows[rows["epoch"] == epoch]


def at_epoch(g: pd.DataFrame, epoch: int, column: str) -> pd.Series:
    """Each seed's finite ``column`` at ``epoch``, indexed by seed."""
    rows = g[g["epoch"] == epoch].set_index("seed")[column].astype(float)
    return rows[np.isfinite(rows)].sort_index()


def horizon(facts: Facts) -> int | None:
    """The last epoch every one of the three models reached (the epoch the claims compare them at)."""
    present = [facts.runs_of(r) for r in MODELS if len(facts.runs_of(r))]
    return min((int(g.groupby("seed")["epoch"].max().min()) for g in present), default=None)


def complete_profile(ours: pd.DataFrame) -> str | None:
    """The longest profile every run of which has a log of its full length here, or None."""
    def complete(profile) -> bool:
        for run_name, seeds in profile.seeds.items():
            last = ours[ours["run_name"] == run_name].groupby("seed")["epoch"].max()
            epochs = profile.epochs.get(run_name, profile.base.epochs)
            if any(last.get(s, 0) < epochs for s in seeds):
                return False
        return True

    found = [p for p in PROFILES.values() if p.name != "smoke" and len(ours) and complete(p)]
    return max(found, key=lambda p: p.base.epochs).name if found else None


# --------------------------------------------------------------------------------------------- sections


def header(facts: Facts) -> str:
    glossary = facts.docs_link("glossary", "glossary.md")
    verdicts = facts.docs_link("verdicts", "glossary.md#verdicts")
    readme = " of [README.md](../README.md#the-claims)" if facts.in_repository else ""
    tables = [
        ("claims.md", "each of the post's statements, its rule, what was measured and the verdict"),
        ("run_table.md", f"each run's test metrics at epochs {join(map(str, RUN_TABLE_EPOCHS))} and its last"),
        ("fidelity.md", "each run against the original's min-max at fixed epochs"),
        ("fidelity_distributions.md", "our replicates against the original's, as two samples, at epochs "
                                      f"{join(map(str, DISTRIBUTION_EPOCHS))}"),
        ("training_time.md", "each run's epoch times"),
    ]
    rows = "\n".join(f"| [`{facts.results_name(name)}`]({facts.results_link(name)}) | {what} |" for name, what in tables)
    provenance = (f"Which command, commit and processor produced each run: "
                  f"[`results/README.md`](../results/README.md). " if facts.in_repository else "")
    return f"""# What the reproduction finds

{GENERATED_NOTE}
*Written by `make figures` from the committed logs and tables: not to be edited by hand.*

Rui Shu's 2016 post trains three VAEs with a discrete latent *y* and a continuous latent *z* on MNIST without
labels, and asks whether *y* learns the digits. Its answers: Kingma's M2 does not (q(y|x) goes uniform), a
modified M2 does better but turns NaN after a few hundred epochs, the real GMVAE clusters best, and M2 has the
best ELBO of the three. This page gives every number behind the {verdicts}{readme}, model by model, with its
caveats; the terms are in the {glossary}. Its numbers come from the logs and from the tables that `make figures`
computes from them:

| table | what it holds |
| --- | --- |
{rows}

{provenance}Below, ± is a standard deviation over seeds.
"""


def in_short(facts: Facts, epoch: int) -> str:
    verdicts = {claim: facts.verdict(claim) for claim in ORDER_CLAIMS}
    held = [ORDER_CLAIMS[c] for c, v in verdicts.items() if v == "supported"]
    failed = [f"{ORDER_CLAIMS[c]} ({v})" for c, v in verdicts.items() if v not in (None, "supported")]
    parts = [f"At epoch {epoch}, " + (f"{join(held)}: supported" if held else "none of the post's statements about "
                                      "clustering and the loss is supported")
             + (f"; {join(failed)}" if failed else "") + "."]
    parts.append(nan_sentence(facts))
    high = facts.verdict(HIGH_ACCURACY_CLAIM)
    if high == "not reached":
        long_enough = [p.name for p in PROFILES.values() if p.base.epochs >= rules.STATEMENT_EPOCH]
        parts.append(f"The statement about epoch {rules.STATEMENT_EPOCH} is not reached: it needs a profile that "
                     f"trains {rules.STATEMENT_EPOCH} epochs ({join(f'`{p}`' for p in long_enough)}).")
    elif high is not None:
        parts.append(f"The statement about epoch {rules.STATEMENT_EPOCH} is {quoted(high)}.")
    parts.append(outside_sentence(facts))
    return "## In short\n\n" + " ".join(p for p in parts if p) + "\n"


def nan_sentence(facts: Facts) -> str:
    """Our modified M2's NaN, and what it leaves of the clipping conjecture."""
    g = facts.runs_of("modified_m2")
    if g.empty:
        return ""
    nan_epochs = sorted(int(e) for e in g.groupby("seed")["nan_epoch"].first().dropna())
    shortest = int(g.groupby("seed")["epoch"].max().min())
    n = g["seed"].nunique()
    happened = (f"no modified-M2 run turns NaN in {shortest} epochs" if not nan_epochs else
                f"{words(len(nan_epochs))} of {words(n)} modified-M2 runs turn NaN, at epoch "
                f"{join(map(str, nan_epochs))}")
    text = f"The NaN: {quoted(facts.verdict(NAN_CLAIM))} ({happened})"
    clipping = facts.verdict(CLIPPING_CLAIM)
    if clipping == "not testable":
        text += ", so the post's guess that clipping the gradients would prevent it cannot be tested here"
    elif clipping is not None:
        text += f"; the post's guess that clipping the gradients would prevent it: {quoted(clipping)}"
    return text + "."


def outside_sentence(facts: Facts) -> str:
    """Which models have values outside the original's min-max, and whether any mean accuracy differs."""
    outside = {}
    for run_name in MODELS:
        rows = facts.fidelity[(facts.fidelity["source"] == "ours") & (facts.fidelity["run_name"] == run_name)
                              & facts.fidelity["run"].str.startswith("seed")]
        if len(rows):
            last = rows[rows["epoch"] == rows["epoch"].max()]
            outside[run_name] = list(dict.fromkeys(last.loc[~last["inside"].astype(bool), "metric"]))
    if not outside:
        return ""
    named = [f"{POSSESSIVE[r]} {join(m)}" for r, m in outside.items() if m]
    text = ("Run by run, " + (f"some of our values fall outside the original's min-max at the last epoch both "
                              f"logged ({join(named)})" if named else
                              "every value of ours lies inside the original's min-max at the last epoch both logged"))
    d = facts.distributions
    accuracy = d[(d["source"] == "ours") & (d["metric"] == "accuracy")]
    if len(accuracy):
        last = accuracy[accuracy["epoch"] == accuracy["epoch"].max()]
        counts = sorted({*last["ours_n"].astype(int), *last["original_n"].astype(int)})
        runs_a_side = words(counts[0]) + ("" if len(counts) == 1 else f" to {words(counts[-1])}")
        different = [label(r) for r in last.loc[last["verdict"] == "different", "run_name"]]
        text += ("; no difference in mean accuracy shows" if not different else
                 f"; the mean accuracy differs for {join(different)}") + \
            f" at epoch {int(last['epoch'].iloc[0])}, with {runs_a_side} runs a side"
    return text + "."


def short_profile(facts: Facts, epoch: int) -> str:
    """The cpu profile: the first epochs of the same runs, with its own claims table."""
    table = facts.results_dir / SHORT_PROFILE / "claims.csv"
    profile = PROFILES[SHORT_PROFILE]
    if not table.is_file() or epoch <= profile.base.epochs:
        return ""
    short = load_profile_runs(SHORT_PROFILE, list(profile.seeds), facts.results_dir)
    theirs = pd.read_csv(table)
    verdicts = dict(zip(theirs["claim"], theirs["verdict"]))
    last = int(short["epoch"].max())

    def mean(run_name, column):
        return float(at_epoch(short[short["run_name"] == run_name], last, column).mean())

    gmvae_n = short.loc[short["run_name"] == "gmvae", "seed"].nunique()
    values = (f"M2's collapse (H(y|x) {mean('m2', 'test_entropy'):.4f} nats, accuracy {mean('m2', 'test_accuracy'):.3f}), "
              f"modified M2's clustering ({mean('modified_m2', 'test_accuracy'):.3f}), the GMVAE's "
              f"({mean('gmvae', 'test_accuracy'):.3f}, {words(gmvae_n)} replicate{'s' if gmvae_n != 1 else ''}) and "
              f"the loss (M2 {mean('m2', 'test_loss'):.2f}, modified M2 {mean('modified_m2', 'test_loss'):.2f}, "
              f"GMVAE {mean('gmvae', 'test_loss'):.2f})")
    same = all(verdicts.get(c) == facts.verdict(c) for c in ORDER_CLAIMS)
    supported = all(verdicts.get(c) == "supported" for c in ORDER_CLAIMS)
    verdict_text = ("The same claims are supported as at the longer horizon" if same and supported else
                    "The same verdicts as at the longer horizon" if same else
                    "Its verdicts: " + join(f"{ORDER_CLAIMS[c]} {quoted(verdicts.get(c))}" for c in ORDER_CLAIMS))
    earlier = facts.results_dir / EARLIER_FLOAT32[0] / "claims.csv"
    earlier_text = ""
    if earlier.is_file():
        old = pd.read_csv(earlier)
        old = dict(zip(old["claim"], old["verdict"]))
        differing = [ORDER_CLAIMS[c] for c in ORDER_CLAIMS if old.get(c) != verdicts.get(c)]
        link = f"[`{facts.results_name(EARLIER)}/`]({facts.results_link(EARLIER + '/README.md')})"
        earlier_text = (f" An earlier float32 protocol ({link}) gives the same verdicts on these claims." if not differing
                        else f" An earlier float32 protocol ({link}) differs on {join(differing)}.")
    longer = {r: s for r, s in profile.seeds.items() if len(facts.runs_of(r)) and facts.runs_of(r)["epoch"].max() > last}
    own = {r: s for r, s in profile.seeds.items() if r not in longer}
    runs_read = join(f"{NAMES.get(r, r)} {seeds_text(s)}" for r, s in longer.items()) + (
        f"), with {join(f'{NAMES.get(r, r)} {seeds_text(s)}' for r, s in own.items())} (trained to {last}" if own else "")
    return (f"## At epoch {last}: the `{SHORT_PROFILE}` profile\n\n"
            f"The `{SHORT_PROFILE}` profile reads the first {last} epochs of the same runs ({runs_read}; "
            f"[its claims]({facts.results_link(SHORT_PROFILE + '/claims.md')})). {verdict_text}: {values}."
            f"{earlier_text}\n")


def runs_paragraph(facts: Facts, epoch: int) -> str:
    profile = complete_profile(facts.ours)
    listed = []
    for run_name in ("gmvae", "modified_m2", CLIPPED, "m2"):
        g = facts.runs_of(run_name)
        if len(g):
            lasts = sorted(set(g.groupby("seed")["epoch"].max().astype(int)))
            epochs = f"{lasts[0]}" if len(lasts) == 1 else f"{lasts[0]} to {lasts[-1]}"
            listed.append(f"{NAMES[run_name]} {seeds_text(g['seed'].unique())} ({epochs} epochs)")
    named = f": the `{profile}` profile" if profile else ""
    opening = "Every run of the profile is here" if profile else "The runs"
    figures = [(f, alt) for f, alt in (("gmvae_curves_post_horizon.png", "GMVAE to epoch 200, over the original's logs"),
                                       ("gmvae_accuracy_per_replicate.png", "Each GMVAE replicate's accuracy against 80 %"))
               if (facts.results_dir / "figures" / f).is_file()]
    images = "".join(f"\n![{alt}]({facts.results_link('figures/' + f)})\n" for f, alt in figures)
    return f"## At epoch {epoch}{named}\n\n{opening}: {join(listed)}.\n{images}"


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
    n = g["seed"].nunique()
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


def beyond_the_post(facts: Facts) -> str:
    present = [r for r in OPEN_QUESTION if len(facts.runs_of(r))]
    if not present:
        return ""
    rows = facts.claims[facts.claims["section"] == "5 open question"]
    verdicts = dict(zip([r for r in rules.OPEN_QUESTION_RUNS if len(facts.runs_of(r))], rows["verdict"]))
    epoch = int(min(facts.runs_of(r)["epoch"].max() for r in present))

    def values(g):
        return (f"{at_epoch(g, epoch, 'test_mutual_information').mean():.3f} nats",
                f"{at_epoch(g, epoch, 'test_accuracy').mean():.3f}")

    said = []
    if "m2_iaf" in present:
        information, accuracy = values(facts.runs_of("m2_iaf"))
        said.append(f"the flow gives {quoted(verdicts['m2_iaf'])} (I(x; y) {information}, accuracy {accuracy})")
    if "m2_eta0" in present:
        information, accuracy = values(facts.runs_of("m2_eta0"))
        said.append(f"without the prior's pull *y* carries {information} at accuracy {accuracy}, "
                    f"{quoted(verdicts['m2_eta0'])} by the rule")
    gmvae = at_epoch(facts.runs_of("gmvae"), epoch, "test_accuracy")
    seeds = sorted({int(s) for r in present for s in facts.runs_of(r)["seed"]})
    k = int(facts.runs_of(present[0])["k"].iloc[0])  # the categories of y
    text = (f"## Beyond the post: why does M2 ignore *y*?\n\n"
            "The post conjectures that M2 ignores *y* because a *y* that carries nothing turns q(z|x) into a mixture "
            f"of {words(k)} Gaussians, already richer than one Gaussian, and that \"to really test this hypothesis out, we should "
            "use a more expressive variational family\". Notebook 05 runs that test, M2 with an inverse autoregressive "
            "flow posterior (`m2_iaf`), and a second, M2 without the prior's pull on *y* (`m2_eta0`), and logs I(x; y) "
            f"for every model. On {seeds_text(seeds)} ({epoch} epochs, `{facts.results_name('runs')}/`), {join(said)}"
            + (f", where the GMVAE's accuracy is {gmvae.mean():.3f} at epoch {epoch}" if len(gmvae) else "") + ".")
    return text + earlier_seeds(facts) + "\n"


def earlier_seeds(facts: Facts) -> str:
    """The flow's outcome on the float32 seeds of the earlier protocol, each judged by the open question's rule."""
    frames = [load_runs(facts.results_dir / folder, list(OPEN_QUESTION)) for folder in EARLIER_FLOAT32]
    frames = [f for f in frames if len(f)]
    if not frames:
        return ""
    df = pd.concat(frames, ignore_index=True)

    def judged(run_name):
        out = []
        for seed, g in df[df["run_name"] == run_name].groupby("seed"):
            row = rules.open_question_table(g).iloc[0]
            last = g[g["epoch"] == g["epoch"].max()].iloc[0]
            out.append((int(seed), last["test_mutual_information"], last["test_accuracy"], row["verdict"]))
        return out

    flow, eta0 = judged("m2_iaf"), judged("m2_eta0")
    link = f"[`{facts.results_name(EARLIER)}/`]({facts.results_link(EARLIER + '/README.md')})"
    text = ""
    if flow:
        varies = len({v for *_, v in flow}) > 1
        text += (f" {'How often the flow does it varies by seed' if varies else 'The flow does the same on every seed'}:"
                 f" in float32 with TFP's own Bernoulli log-likelihood ({link}), {seeds_text(s for s, *_ in flow)} give "
                 f"I(x; y) {join(f'{i:.3f}' for _, i, _, _ in flow)} nats (accuracy "
                 f"{join(f'{a:.4f}' for _, _, a, _ in flow)}: {join(quoted(v) for *_, v in flow)})")
    if eta0:
        _, information, accuracy, verdict = eta0[0]
        text += (f", and without the prior's pull *y* carries {information:.3f} nats at accuracy {accuracy:.4f} "
                 f"({quoted(verdict)})")
    return text + "." if text else ""


def what_it_costs(facts: Facts, profile: str | None) -> str:
    times = facts.times[facts.times["model"] != "all"]
    post_runs = [r for r in ("gmvae", "modified_m2", CLIPPED, "m2") if len(facts.runs_of(r))]
    shown = times[times["model"].isin([label(r) for r in post_runs])]
    if shown.empty:
        return ""
    processors, precisions = join(sorted(set(shown["processor"].dropna()))), join(sorted(set(shown["precision"].dropna())))
    per_model = []
    for run_name in post_runs:
        t = shown[shown["model"] == label(run_name)]
        epochs = sorted(set(t["epochs"].astype(int)))
        per_model.append(f"{NAMES[run_name]} {t['median epoch [s]'].min():.1f} to {t['median epoch [s]'].max():.1f} s "
                         f"a median epoch, {'/'.join(map(str, epochs))} epochs in {t['at the median pace [min]'].min():.0f}"
                         f" to {t['at the median pace [min]'].max():.0f} minutes")
    total = shown["at the median pace [min]"]
    whose = f" of the `{profile}` profile" if profile else ""
    bench = facts.docs_link("performance.md", "performance.md")
    return ("## What it costs\n\n"
            f"Every run{whose} is trained on {processors} in {precisions}, one run per core beside another "
            f"([`{facts.results_name('training_time.md')}`]({facts.results_link('training_time.md')})): at each run's median pace, "
            f"{'; '.join(per_model)}. Its {words(len(shown))} runs take {total.sum() / 60:.1f} hours at their median "
            f"pace ({total.min():.0f} to {total.max():.0f} minutes each), about half that on the clock, two at a time. "
            f"`python -m gmvae bench` measures how many more epochs an hour two runs side by side train than one run "
            f"on both cores ({bench}).\n")


# --------------------------------------------------------------------------------------------- the page


def findings_path(results_dir) -> Path:
    """docs/findings.md for the repository's results folder (the one beside a README.md with the claims table and
    a docs/ folder), else findings.md in the results folder itself."""
    results_dir = Path(results_dir).resolve()
    readme, docs = results_dir.parent / "README.md", results_dir.parent / "docs"
    if docs.is_dir() and readme.is_file() and README_CLAIMS_START in readme.read_text():
        return docs / "findings.md"
    return results_dir / "findings.md"


def read_facts(results_dir, ours: pd.DataFrame, original: pd.DataFrame) -> Facts:
    """The page's material: the tables `make figures` wrote into ``results_dir`` and the logs."""
    results_dir = Path(results_dir).resolve()

    def table(name, columns):
        """The table, or none with its columns where the folder has not got it (a folder of runs drawn before)."""
        path = results_dir / name
        return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame(columns=columns)

    return Facts(results_dir, ours, original, table("claims.csv", rules.CLAIM_COLUMNS),
                 table("fidelity_distributions.csv", DISTRIBUTION_COLUMNS), table("fidelity.csv", FIDELITY_COLUMNS),
                 table("training_time.csv", ["model"]), findings_path(results_dir).parent != results_dir)


def wrapped(markdown: str, width: int = 115) -> str:
    """Paragraphs wrapped at ``width`` (headings, tables, images and comments as they are)."""
    blocks = markdown.split("\n\n")
    return "\n\n".join(block if block.lstrip().startswith(("#", "|", "!", "<")) else
                        textwrap.fill(" ".join(block.split()), width, break_long_words=False, break_on_hyphens=False)
                        for block in blocks)


def findings_markdown(results_dir, ours: pd.DataFrame, original: pd.DataFrame) -> str:
    """The findings page of ``results_dir``, section by section."""
    facts = read_facts(results_dir, ours, original)
    epoch = horizon(facts)
    if epoch is None:
        return header(facts) + "\nNo logs of M2, modified M2 or the GMVAE: nothing to report.\n"
    sections = [header(facts), in_short(facts, epoch), short_profile(facts, epoch), runs_paragraph(facts, epoch),
                gmvae_section(facts, epoch), modified_m2_section(facts, epoch), clipped_section(facts),
                m2_section(facts, epoch), beyond_the_post(facts), what_it_costs(facts, complete_profile(facts.ours))]
    return wrapped("\n".join(s for s in sections if s)).rstrip("\n") + "\n"


def write_findings(results_dir, ours: pd.DataFrame, original: pd.DataFrame) -> Path:
    """Write :func:`findings_markdown` to :func:`findings_path`; returns the path."""
    path = findings_path(results_dir)
    runs.atomic_write_text(path, findings_markdown(results_dir, ours, original))
    return path
