"""What notebook 00 shows of the results: each finding of the claims table with its verdict and the notebook
that shows it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gmvae.reporting.tables import markdown_table

# The claims table's sections (gmvae.reporting.claims) and the notebook that shows each: the post's sections one
# notebook each, ours against the original's logs in the overlay's notebook.
SECTION_NOTEBOOKS = {
    "1 M2": "01_m2_failure.ipynb",
    "2 modified M2": "02_modified_m2.ipynb",
    "3 GMVAE": "03_real_gmvae.ipynb",
    "4 overlay": "04_overlay_comparison.ipynb",
    "vs original": "04_overlay_comparison.ipynb",
    "5 open question": "05_open_questions.ipynb",
}
CLAIMS_FILE = "claims.csv"  # what `make figures` writes from every log in a results folder


def load_claims(results_dir) -> pd.DataFrame | None:
    """The claims table of ``results_dir`` (its top level: every log there), None if it has none."""
    path = Path(results_dir) / CLAIMS_FILE
    return pd.read_csv(path) if path.is_file() else None


def findings_table(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the claim, its verdict and a link to the notebook that shows it (a sibling notebook,
    as in notebooks/ and in an executed/ folder alike)."""
    unknown = sorted(set(claims["section"]) - set(SECTION_NOTEBOOKS))
    if unknown:
        raise ValueError(f"no notebook named for the claims table's sections {unknown}: add them to SECTION_NOTEBOOKS")
    notebooks = claims["section"].map(SECTION_NOTEBOOKS)
    return pd.DataFrame({"finding": claims["claim"], "verdict": claims["verdict"],
                         "shown in": [f"[{name[:2]}]({name})" for name in notebooks]})


def verdict_summary(claims: pd.DataFrame) -> str:
    """How many claims got each verdict, in the order the verdicts first appear: "3 claims: 2 *supported*; 1 *not
    reached*" (verdicts may hold commas)."""
    counts = claims["verdict"].value_counts(sort=False)
    return f"{len(claims)} claims: " + "; ".join(f"{n} *{verdict}*" for verdict, n in counts.items())


def findings_markdown(results_dir) -> str:
    """The findings as notebook 00 shows them, or where the claims table would come from if ``results_dir``
    lacks one."""
    claims = load_claims(results_dir)
    if claims is None:
        return (f"No `{CLAIMS_FILE}` in this results folder yet: `python -m gmvae figures --results <folder>` writes "
                "it from the logs there, and notebook 04 writes its profile's own.\n")
    return f"{verdict_summary(claims)}.\n\n{markdown_table(findings_table(claims))}"
