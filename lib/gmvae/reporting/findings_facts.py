"""What the findings page (gmvae.reporting.findings) is written from, and its words: the tables `make figures`
writes into a results folder and the logs, gathered in :class:`Facts`, with the helpers that turn counts, seeds and
samples into text. pandas only: no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gmvae.reporting import claims as rules
from gmvae.reporting.original import half_unit
from gmvae.reporting.plots import MNIST_TEST_MAJORITY_RATE
from gmvae.reporting.tables import README_CLAIMS_START
from gmvae.reproduction.pipeline import EARLIER
from gmvae.reproduction.profiles import PROFILES

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
    """The longest profile of the post's three models every run of which has a log of its full length here, or None
    (the nan profile trains only variants of the modified M2: complete, it still says nothing of the others)."""
    def complete(profile) -> bool:
        for run_name, seeds in profile.seeds.items():
            last = ours[ours["run_name"] == run_name].groupby("seed")["epoch"].max()
            epochs = profile.epochs.get(run_name, profile.base.epochs)
            if any(last.get(s, 0) < epochs for s in seeds):
                return False
        return True

    found = [p for p in PROFILES.values()
             if p.name != "smoke" and set(MODELS) <= set(p.seeds) and len(ours) and complete(p)]
    return max(found, key=lambda p: p.base.epochs).name if found else None


def findings_path(results_dir) -> Path:
    """docs/findings.md for the repository's results folder (the one beside a README.md with the claims table and
    a docs/ folder), else findings.md in the results folder itself."""
    results_dir = Path(results_dir).resolve()
    readme, docs = results_dir.parent / "README.md", results_dir.parent / "docs"
    if docs.is_dir() and readme.is_file() and README_CLAIMS_START in readme.read_text():
        return docs / "findings.md"
    return results_dir / "findings.md"


def read_facts(results_dir, ours: pd.DataFrame, original: pd.DataFrame) -> Facts:
    """The page's material: the tables `make figures` has just written into ``results_dir`` (write_tables) and the
    logs."""
    results_dir = Path(results_dir).resolve()
    claims, distributions, fidelity, times = (pd.read_csv(results_dir / name) for name in (
        "claims.csv", "fidelity_distributions.csv", "fidelity.csv", "training_time.csv"))
    return Facts(results_dir, ours, original, claims, distributions, fidelity, times,
                 findings_path(results_dir).parent != results_dir)
