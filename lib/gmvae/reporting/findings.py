"""The findings page: every number behind the verdicts, model by model, written by `make figures` from the tables
it has just written (claims.csv, fidelity.csv, fidelity_distributions.csv, training_time.csv) and from the logs
(our runs, the original's, the clipping threshold's run, the earlier float32 runs), so that it cannot drift from
them. A sentence whose truth depends on the numbers is chosen here from the numbers.

The repository's results/ writes docs/findings.md (:func:`findings_path`); any other results folder writes
findings.md inside it. The page's material and words: findings_facts.py; its sections on each model:
findings_models.py. pandas and SciPy only: no TensorFlow.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd

from gmvae import runs
from gmvae.reporting import claims as rules
from gmvae.reporting.fidelity import DISTRIBUTION_EPOCHS
from gmvae.reporting.findings_facts import (CLIPPED, CLIPPING_CLAIM, EARLIER_FLOAT32, HIGH_ACCURACY_CLAIM, MODELS,
                                            NAMES, NAN_CLAIM, OPEN_QUESTION, ORDER_CLAIMS, POSSESSIVE, SHORT_PROFILE,
                                            Facts, at_epoch, complete_profile, findings_path, horizon, join, quoted,
                                            read_facts, seeds_text, words)
from gmvae.reporting.findings_models import (clipped_section, float32_section, gmvae_section, m2_section,
                                             modified_m2_section)
from gmvae.reporting.plots import label, load_runs
from gmvae.reporting.tables import RUN_TABLE_EPOCHS
from gmvae.reproduction.pipeline import EARLIER, load_profile_runs
from gmvae.reproduction.profiles import PROFILES


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
    provenance = ("Which command, commit and processor produced each run: "
                  "[`results/README.md`](../results/README.md). " if facts.in_repository else "")
    return f"""# What the reproduction finds

*Written by `make figures` (gmvae.reporting.findings) from the logs and tables: not to be edited by hand.*

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
                float32_section(facts), m2_section(facts, epoch), beyond_the_post(facts),
                what_it_costs(facts, complete_profile(facts.ours))]
    return wrapped("\n".join(s for s in sections if s)).rstrip("\n") + "\n"


def write_findings(results_dir, ours: pd.DataFrame, original: pd.DataFrame) -> Path:
    """Write :func:`findings_markdown` to :func:`findings_path`; returns the path."""
    path = findings_path(results_dir)
    runs.atomic_write_text(path, findings_markdown(results_dir, ours, original))
    return path
