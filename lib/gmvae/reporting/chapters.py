"""What the chapters (notebooks 01-05) show beside their figures: the library's own source of a model, the training
record as a table of milestone epochs, compact views of the fidelity tables, and the versions that produced them.

Every number comes from the logs the notebook loaded (:func:`gmvae.reporting.plots.load_runs`'s long form)."""

from __future__ import annotations

import inspect
import math
import textwrap

import pandas as pd

from gmvae import machine
from gmvae.reporting.plots import label, load_runs, model_order
from gmvae.reproduction.parameters import resolve_path

POST_URL = "http://ruishu.io/2016/12/25/gmvae/"
RECORD_STEP = 10     # the training record shows every tenth epoch ...
RECORD_MAX_ROWS = 31  # ... or a coarser multiple of ten, so that a 1000-epoch log stays a short table
RECORD_COLUMNS = {"test_entropy": "H(y|x)", "test_loss": "loss", "test_accuracy": "accuracy"}
# More seeds of a variant than its profile trains, under an earlier protocol (their folder's README says which).
SEED_SPREAD = "earlier/seed_spread"
SEED_SPREAD_SOURCE = "earlier protocol (float32, TFP's Bernoulli)"


def source_of(*functions) -> str:
    """The source of each function or method, dedented and headed by its qualified name, as one Markdown code block:
    the model a chapter trains, shown from the library itself."""
    parts = [f"# {fn.__qualname__}\n{textwrap.dedent(inspect.getsource(fn)).rstrip()}" for fn in functions]
    return "```python\n" + "\n\n".join(parts) + "\n```"


def milestones(last: int, step: int = RECORD_STEP, max_rows: int = RECORD_MAX_ROWS) -> list[int]:
    """Epoch 1, every ``step``-th epoch (a multiple of ``step`` coarse enough for at most ``max_rows`` rows) and
    ``last``."""
    if last < 1:
        return []
    step *= max(1, math.ceil(last / (step * (max_rows - 1))))
    return sorted({1, *range(step, last + 1, step), last})


def training_table(df: pd.DataFrame, columns: dict = RECORD_COLUMNS) -> pd.DataFrame:
    """The training record at :func:`milestones` of the longest log: per run name, each of ``columns`` averaged over
    the runs that logged that epoch ("runs" says how many, where a run stopped early)."""
    if df.empty:
        return pd.DataFrame(columns=["epoch"])
    epochs = milestones(int(df["epoch"].max()))
    shown = df[df["epoch"].isin(epochs)]
    table = pd.DataFrame({"epoch": epochs})
    for run_name in sorted(df["run_name"].unique(), key=model_order):
        rows = shown[shown["run_name"] == run_name].groupby("epoch")
        prefix = f"{label(run_name)} " if df["run_name"].nunique() > 1 else ""
        for column, name in columns.items():
            table[f"{prefix}{name}"] = table["epoch"].map(rows[column].mean())
        counts = table["epoch"].map(rows["seed"].nunique()).fillna(0).astype(int)
        if counts[counts > 0].nunique() > 1:  # some runs stopped before others (a blank row: all had stopped)
            table[f"{prefix}runs"] = counts
    return table


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as the logs resolve them: losses to 0.01 nat, the rest to three decimals; missing values blank."""
    def cell(column, v):
        if pd.isna(v):
            return ""
        if column == "epoch" or column.endswith("runs"):
            return str(int(v)) if v else ""
        return f"{v:.2f}" if column.endswith("loss") else f"{v:.3f}"

    return pd.DataFrame({c: [cell(c, v) for v in table[c]] for c in table.columns})


def last_epoch_means(df: pd.DataFrame, columns=("test_entropy", "test_loss", "test_accuracy", "test_kl_y",
                                                  "test_mutual_information")) -> pd.DataFrame:
    """Per run name: its runs' count, the last epoch they all logged, and each column's mean over the runs there. A run
    that turned NaN logged up to the epoch before (its NaN epoch's row holds no value), so the means are over every
    run."""
    rows = []
    for run_name, g in df.groupby("run_name"):
        finite = g.dropna(subset=["test_loss"]).groupby("seed")["epoch"].max()
        epoch = int(finite.reindex(g["seed"].unique()).fillna(0).min())  # 0: a run with no finite epoch
        at = g[g["epoch"] == epoch]
        rows.append({"run_name": run_name, "runs": g["seed"].nunique(), "epoch": epoch,
                     **{c: at[c].mean() for c in columns if c in at}})
    return pd.DataFrame(rows).set_index("run_name")


def means_at(df: pd.DataFrame, epoch: int, columns=("test_entropy", "test_loss", "test_accuracy")) -> pd.DataFrame:
    """Per run name: each column's mean over the runs that logged ``epoch`` with finite values, and their count (run
    names without such a run left out)."""
    at = df[df["epoch"] == epoch].dropna(subset=list(columns))
    return at.groupby("run_name")[list(columns)].mean().assign(runs=at.groupby("run_name")["seed"].nunique())


def peak(df: pd.DataFrame, run_name: str, column: str = "test_accuracy") -> tuple[float, int]:
    """(highest value of the mean over runs, its epoch) of ``column`` for ``run_name``."""
    mean = df[df["run_name"] == run_name].groupby("epoch")[column].mean()
    return float(mean.max()), int(mean.idxmax())


def verdicts(claims: pd.DataFrame, *claim_starts: str) -> str:
    """The claims table's rows whose claim starts with one of ``claim_starts``, as "claim: verdict (measured)"
    sentences."""
    rows = claims[claims["claim"].str.startswith(claim_starts)]
    return "; ".join(f"{r.claim}: **{r.verdict}** ({r.measured})" for r in rows.itertuples())


def load_seed_spread(results_dir, run_names) -> pd.DataFrame:
    """The runs of SEED_SPREAD under results_dir (empty if none), with ``source`` saying their protocol."""
    return load_runs(resolve_path(results_dir) / SEED_SPREAD, run_names).assign(source=SEED_SPREAD_SOURCE)


def our_runs(fidelity: pd.DataFrame) -> pd.DataFrame:
    """The rows of fidelity.fidelity_table for each of our runs in runs/ (not runs kept from an earlier protocol, nor
    the mean over seeds)."""
    return fidelity[(fidelity["source"] == "ours") & (fidelity["run"] != "mean")]


def fidelity_summary(fidelity: pd.DataFrame) -> pd.DataFrame:
    """fidelity.fidelity_table (one row per run, metric and epoch) as one row per model and metric: at each compared
    epoch, how many of our runs lie inside the original's range ("3/4")."""
    ours = our_runs(fidelity)
    if ours.empty:
        return pd.DataFrame(columns=["model", "metric"])
    rows = []
    for (run_name, metric), g in sorted(ours.groupby(["run_name", "metric"]), key=lambda kv: model_order(kv[0][0])):
        counts = g.groupby("epoch")["inside"].agg(["sum", "size"])
        rows.append({"model": label(run_name), "metric": metric,
                     **{f"epoch {e}": f"{int(c['sum'])}/{int(c['size'])}" for e, c in counts.iterrows()}})
    return pd.DataFrame(rows).fillna("")


def distribution_summary(distributions: pd.DataFrame) -> pd.DataFrame:
    """fidelity.distribution_table as one row per model and metric, the verdict at each epoch with the replicate
    counts it rests on ("undecided (4 vs 3)")."""
    ours = distributions[distributions["source"] == "ours"]
    if ours.empty:
        return pd.DataFrame(columns=["model", "metric"])
    rows = []
    for (run_name, metric), g in sorted(ours.groupby(["run_name", "metric"]), key=lambda kv: model_order(kv[0][0])):
        rows.append({"model": label(run_name), "metric": metric,
                     **{f"epoch {r.epoch}": f"{r.verdict} ({r.ours_n} vs {r.original_n})" for r in g.itertuples()}})
    return pd.DataFrame(rows).fillna("")


def versions(df: pd.DataFrame | None = None) -> str:
    """The versions and processor of machine.environment_versions, one per line; with the logs ``df``, the
    precisions and processors its runs trained in."""
    lines = [f"{name}: {value}" for name, value in machine.environment_versions().items()]
    if df is not None and len(df):
        trained = df[df["source"] == "ours"] if "source" in df else df
        pairs = sorted({(str(p), str(c)) for p, c in trained[["precision", "processor"]].itertuples(index=False)})
        lines.append("the runs shown trained in: " + "; ".join(f"{p} on {c}" for p, c in pairs))
    return "\n".join(lines)


def time_text(df: pd.DataFrame) -> str:
    """One sentence on the training time the logs record (tables.training_time_table): runs, median epoch, minutes a
    run, and the total."""
    from gmvae.reporting.tables import training_time_table

    table = training_time_table(df)
    each = table.iloc[:-1]
    if each.empty:
        return "The logs record no epoch times."
    median, minutes, total = each["median epoch [s]"], each["logged [min]"], table["logged [min]"].iloc[-1]
    in_all = f"{total / 60:.1f} hours" if total >= 60 else f"{total:.1f} minutes"
    return (f"Training time, from the logs: {len(each)} run{'s' if len(each) != 1 else ''}, a median epoch of "
            f"{_span(median, '.1f')} s, {_span(minutes, '.1f')} minutes a run, {in_all} of one core in all (trained "
            f"two at a time, one per core, they take about half that on the clock).")


def _span(values: pd.Series, spec: str) -> str:
    """"low-high" of ``values`` as ``spec`` formats them, or the one value if they agree there."""
    low, high = format(values.min(), spec), format(values.max(), spec)
    return low if low == high else f"{low}-{high}"
