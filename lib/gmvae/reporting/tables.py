"""Tables computed from the logs: per run at fixed epochs, and markdown for the notebooks and README."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gmvae import runs
from gmvae.reporting.agreement import agreement_markdown_table, agreement_table
from gmvae.reporting.claims import claims_table
from gmvae.reporting.fidelity import (DISTRIBUTION_EPOCHS, DISTRIBUTION_RULE, distribution_markdown_table,
                                      distribution_table, fidelity_markdown_table, fidelity_table)
from gmvae.reporting.plots import label, model_order
from gmvae.reproduction.parameters import resolve_path
from gmvae.reproduction.pipeline import BFLOAT16_SOURCE, EARLIER, FLOAT32_SOURCE


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no index; "|" escaped)."""
    cols = list(table.columns)

    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join(cell(row[c]) for c in cols) + " |" for _, row in table.iterrows()]
    return "\n".join(lines) + "\n"


# README.md's claims table sits between these lines; `make figures` rewrites it from results/claims.csv.
README_CLAIMS_START = "<!-- the claims table: `make figures` writes it from results/claims.csv -->"
README_CLAIMS_END = "<!-- end of the claims table -->"


def readme_claims_markdown(claims: pd.DataFrame) -> str:
    """The claims table as README shows it: without the rules, which results/claims.md keeps."""
    return markdown_table(claims.drop(columns="rule"))


def update_readme_claims(readme: Path, claims: pd.DataFrame) -> bool:
    """Rewrite the claims table between README_CLAIMS_START and README_CLAIMS_END in ``readme``; False, and
    nothing written, if the file is missing or lacks the markers in that order (a results folder outside the
    repository)."""
    text = readme.read_text() if readme.is_file() else ""
    head, start, rest = text.partition(README_CLAIMS_START)
    _, end, tail = rest.partition(README_CLAIMS_END)
    if not (start and end):
        return False
    new = f"{head}{README_CLAIMS_START}\n{readme_claims_markdown(claims)}{README_CLAIMS_END}{tail}"
    if new != text:
        runs.atomic_write_text(readme, new)
    return True


def _runs_in_post_order(df: pd.DataFrame) -> list:
    """[((run_name, seed), its rows)] of :func:`plots.load_runs` logs, in the post's order of the models, then
    by seed."""
    groups = df.groupby(["run_name", "seed"], sort=False) if len(df) else []
    return sorted(groups, key=lambda item: (model_order(item[0][0]), item[0][1]))


RUN_TABLE_EPOCHS = (10, 20, 50)  # the epochs of the per-run table, besides each run's last


def run_table(df: pd.DataFrame, epochs=RUN_TABLE_EPOCHS) -> pd.DataFrame:
    """Per model and seed, the test metrics at ``epochs`` (those the run reached) and at its last
    epoch, from :func:`plots.load_runs` logs. Rows of a run that turned NaN stop at its last finite
    epoch; its last row says so."""
    rows = []
    for (run_name, seed), g in _runs_in_post_order(df):
        g = g[np.isfinite(g["test_loss"])].sort_values("epoch")
        if g.empty:
            continue
        last = int(g["epoch"].iloc[-1])
        nan_epoch = g["nan_epoch"].iloc[0]
        for epoch in sorted({e for e in epochs if e < last} | {last}):
            row = g[g["epoch"] == epoch]
            if row.empty:
                continue
            row = row.iloc[0]
            note = "" if epoch != last else (" (last)" if pd.isna(nan_epoch) else f" (last; NaN at {int(nan_epoch)})")
            rows.append({"model": label(run_name), "seed": int(seed), "epoch": f"{epoch}{note}",
                         "accuracy": f"{row['test_accuracy']:.3f}", "H(y|x) [nats]": f"{row['test_entropy']:.3f}",
                         "loss [nats]": f"{row['test_loss']:.2f}", "NMI": f"{row['test_nmi']:.3f}",
                         "ARI": f"{row['test_ari']:.3f}"})
    return pd.DataFrame(rows, columns=["model", "seed", "epoch", "accuracy", "H(y|x) [nats]", "loss [nats]",
                                       "NMI", "ARI"])


def training_time_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per model and seed, the time its log records: epochs, processor, precision, the median epoch's seconds,
    the logged seconds summed ("logged") and the median times the epochs ("at the median pace": the run without
    the pauses and the epochs slowed by other work that the sum holds); a last row, "all", sums the runs. From
    :func:`plots.load_runs` logs."""
    rows = []
    for (run_name, seed), g in _runs_in_post_order(df):
        seconds = g["seconds"].astype(float)
        seconds = seconds[np.isfinite(seconds)]
        if seconds.empty:
            continue
        rows.append({"model": label(run_name), "seed": int(seed), "epochs": len(seconds),
                     "processor": g["processor"].iloc[-1] or "", "precision": g["precision"].iloc[-1] or "",
                     "median epoch [s]": seconds.median(), "logged [min]": seconds.sum() / 60,
                     "at the median pace [min]": len(seconds) * seconds.median() / 60})
    table = pd.DataFrame(rows, columns=["model", "seed", "epochs", "processor", "precision", "median epoch [s]",
                                        "logged [min]", "at the median pace [min]"])
    if len(table):
        total = {"model": "all", "seed": "", "epochs": table["epochs"].sum(), "processor": "", "precision": "",
                 "median epoch [s]": np.nan, "logged [min]": table["logged [min]"].sum(),
                 "at the median pace [min]": table["at the median pace [min]"].sum()}
        table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return table


def training_time_markdown(table: pd.DataFrame, header: str | None = None) -> str:
    """The training-time table under ``header`` (default TRAINING_TIME_HEADER) and a line of its total in hours;
    seconds to one decimal, minutes whole."""
    shown = table.assign(**{
        "median epoch [s]": table["median epoch [s]"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
        "logged [min]": table["logged [min]"].map(lambda v: f"{v:.0f}"),
        "at the median pace [min]": table["at the median pace [min]"].map(lambda v: f"{v:.0f}")})
    header = TRAINING_TIME_HEADER if header is None else header
    if len(table):
        total = table.iloc[-1]
        header += (f"In all: {total['epochs']:,} epochs, {total['logged [min]'] / 60:.1f} hours logged, "
                   f"{total['at the median pace [min]'] / 60:.1f} hours at each run's median pace.\n\n")
    return header + markdown_table(shown)


def write_tables(df: pd.DataFrame, results_dir, original: pd.DataFrame | None = None,
                 kept: pd.DataFrame | None = None) -> list[Path]:
    """Write into results_dir the claims table (claims.csv, .md), the per-run table (run_table.csv, .md), the
    training time of each run (training_time.csv, .md) and,
    with ``original`` (gmvae.reporting.original.load_original_logs output), the fidelity table (fidelity.csv,
    .md) of ``df`` and of ``kept`` (runs kept beside the current ones, pipeline.load_kept_runs) with the
    distribution table of ``df`` (fidelity_distributions.csv, .md) and, if ``kept`` holds the float32 and bfloat16
    runs of the precision study and results_dir holds them, their agreement (earlier/precision.csv, .md); return
    the paths."""
    results_dir = resolve_path(results_dir)
    claims = claims_table(df, original)
    table = run_table(df)
    times = training_time_table(df)
    texts = {
        "claims.csv": claims.to_csv(index=False),
        "claims.md": "# The post's claims, checked against the logs\n\n" + markdown_table(claims),
        "run_table.csv": table.to_csv(index=False),
        "run_table.md": "# Test metrics per run, from the logs\n\n" + markdown_table(table),
        "training_time.csv": times.to_csv(index=False, float_format="%.6g"),
        "training_time.md": training_time_markdown(times),
    }
    if original is not None:
        fidelity = fidelity_table(pd.concat([df, kept]) if kept is not None and len(kept) else df, original)
        texts["fidelity.csv"] = fidelity.to_csv(index=False, float_format="%.6g")
        sections = [f"## {source}\n\n" + markdown_table(fidelity_markdown_table(fidelity[fidelity["source"] == source]))
                    for source in dict.fromkeys(fidelity["source"])]
        texts["fidelity.md"] = FIDELITY_HEADER + "\n".join(sections)
        distributions = distribution_table(df, original)
        texts["fidelity_distributions.csv"] = distributions.to_csv(index=False, float_format="%.6g")
        texts["fidelity_distributions.md"] = DISTRIBUTIONS_HEADER + (
            markdown_table(distribution_markdown_table(distributions)) if len(distributions)
            else f"No epoch of {', '.join(map(str, DISTRIBUTION_EPOCHS))} logged by both ours and the original.\n")
    kept = kept if kept is not None else df.iloc[0:0]
    float32, bfloat16 = (kept[kept["source"] == source] for source in (FLOAT32_SOURCE, BFLOAT16_SOURCE))
    if len(float32) and len(bfloat16) and (results_dir / EARLIER).is_dir():  # beside the runs it compares, only
        agreement = agreement_table(float32, bfloat16)
        texts[f"{EARLIER}/precision.csv"] = agreement.to_csv(index=False, float_format="%.6g")
        texts[f"{EARLIER}/precision.md"] = PRECISION_HEADER + markdown_table(
            agreement_markdown_table(agreement, "float32", "mixed_bfloat16"))
    paths = []
    for name, text in texts.items():
        paths.append(results_dir / name)
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        runs.atomic_write_text(paths[-1], text)
    return paths


FIDELITY_HEADER = """# Our runs against the original's published logs

Each test metric of ours at epochs 1, 5, 10, 20, 50 and our last, beside the min / mean / max over the
original's replicates that reached that epoch (RuiShu/vae-clustering's logs, shipped in
`lib/gmvae/reporting/original_material/`). "inside": within the original's min-max, each edge widened by half a
unit of the last digit the original logged (it logged 3 significant digits: 1.03e+02 means 102.5-103.5).
"last 5": the mean of the last five epochs up to that one (fewer at the start), judged against the
original's five-epoch means. One section per set of our runs: "ours" are the runs in `runs/`, the others
runs kept from an earlier protocol (their folder's README says which). Written by notebook 04 and
`python -m gmvae figures` from the logs.

"""


DISTRIBUTIONS_HEADER = f"""# Our replicates against the original's, as distributions

At epochs {', '.join(map(str, DISTRIBUTION_EPOCHS))}, each test metric over our replicates in `runs/` (mean, standard
deviation, count) against the original's replicates that reached the epoch, as two samples: the difference of
means (ours - original) with its 95 % Welch interval, Welch's two-sided p, the p of the equivalence test (TOST)
against the margin, and a two-sided permutation-test p-value as a second opinion (exact where the splits are fewer
than 9,999). Verdict: {DISTRIBUTION_RULE}. "half unit": half a unit of the digit the original logged at its
mean (it logged three significant digits, so its 0.114 stands for 0.1135 to 0.1145): no gap of that size or less
is "different", and the margin is never below it, so "equivalent" means equal up to the margin and the original's
rounding. "detectable (80 %)": the smallest true difference the rule calls "different" with 80 % power at these
counts and observed spreads, the half unit plus what Welch's test at 5 % detects with 80 % power (noncentral t):
"undecided" beside a difference at or below it says that the runs are too few, or the original's logs too coarse,
to tell, not that the two agree. The original's min-max, widened by half a logged unit as in `fidelity.md`, stands
beside it. Written by notebook 04 and `python -m gmvae figures` from the logs (gmvae.reporting.fidelity).

"""


TRAINING_TIME_HEADER = """# Training time per run, from the logs

Each run's `seconds` column (one value per epoch: its training and its test metrics): the median, the sum
("logged") and the median times the epochs ("at the median pace"). The sum holds whatever the machine did beside
the run, pauses included (`results/README.md` says where); the median pace leaves out such spells while they last
fewer than half the epochs. Runs trained two at a time, one core each (as `reproduce` trains on 2 cores, and as
every committed run was), take about half their sum on the clock. A run resumed on a machine of another kind
names the last one.
Written by notebook 04 and `python -m gmvae figures` from the logs.

"""


PRECISION_HEADER = """# The cpu profile in mixed_bfloat16 against float32

Each run of `tfp_bernoulli_mixed_bfloat16/runs/` beside the run of the same model and seed in
`tfp_bernoulli_float32/runs/` (same weights, batches and noise; bfloat16 or float32 matrix products; both with
TFP's own Bernoulli log-likelihood, as the project computed it then): the test metric of each at epochs 10, 20
and 50, their absolute difference, and the difference between the two float32 GMVAE seeds at that epoch, the
yardstick for "no larger than changing the seed". The "mean" rows average each over every epoch both reached;
they carry the verdict (a single epoch's gap can be near zero where two curves cross). Written by notebook 04
and `python -m gmvae figures` from the logs (gmvae.reporting.agreement).

"""
