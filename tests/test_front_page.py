"""Notebook 00's findings: each claim's verdict and the notebook that shows it, from a claims table."""

from __future__ import annotations

import pandas as pd
import pytest

from gmvae.reporting import front_page
from gmvae.reproduction.notebook_runner import NOTEBOOKS
from gmvae.reproduction.parameters import NOTEBOOK_DIR

RESULTS = NOTEBOOK_DIR.parent / "results"
CLAIMS = pd.DataFrame({"section": ["1 M2", "3 GMVAE", "vs original", "1 M2"],
                       "claim": ["a", "b", "c", "d"], "rule": "r", "measured": "m",
                       "verdict": ["not reached", "y used, not for the digit", "supported", "supported"]})


@pytest.mark.parametrize("folder", [RESULTS, RESULTS / "cpu"], ids=["every log", "cpu profile"])
def test_every_section_of_the_committed_claims_tables_is_shown_by_the_notebook_of_its_number(folder):
    claims = front_page.load_claims(folder)
    table = front_page.findings_table(claims)
    assert list(table["verdict"]) == list(claims["verdict"]) and list(table["finding"]) == list(claims["claim"])
    for section, notebook in front_page.SECTION_NOTEBOOKS.items():
        assert notebook in NOTEBOOKS
        number = section.split()[0]
        # the post's sections one notebook each; ours against the original's logs in the overlay's notebook
        assert notebook.startswith(f"0{number}_" if number.isdigit() else "04_"), (section, notebook)


def test_the_findings_link_each_claim_to_its_notebook_and_count_the_verdicts():
    table = front_page.findings_table(CLAIMS)
    assert list(table["shown in"]) == ["[01](01_m2_failure.ipynb)", "[03](03_real_gmvae.ipynb)",
                                       "[04](04_overlay_comparison.ipynb)", "[01](01_m2_failure.ipynb)"]
    assert front_page.verdict_summary(CLAIMS) == ("4 claims: 1 *not reached*; 1 *y used, not for the digit*; "
                                                  "2 *supported*")
    with pytest.raises(ValueError, match="'6 new section'"):
        front_page.findings_table(pd.concat([CLAIMS, CLAIMS.head(1).assign(section="6 new section")]))


def test_the_findings_are_the_claims_table_of_the_folder_or_say_where_it_comes_from(tmp_path):
    assert front_page.findings_markdown(tmp_path).startswith("No `claims.csv` in this results folder yet")
    CLAIMS.to_csv(tmp_path / "claims.csv", index=False)
    text = front_page.findings_markdown(tmp_path)
    assert text.startswith("4 claims: 1 *not reached*;")
    assert "| b | y used, not for the digit | [03](03_real_gmvae.ipynb) |" in text.splitlines()
