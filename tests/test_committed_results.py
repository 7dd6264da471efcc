"""The tables committed in results/, and docs/findings.md, are what the code writes from the committed logs, character
for character: a change to a rule, a threshold, an epoch picked, a statistic or a claim's wording that is not
followed by `make figures` fails here, and so does a table or page edited by hand."""

from __future__ import annotations

from gmvae.reporting import figures
from gmvae.reporting.findings import findings_markdown, findings_path
from gmvae.reporting.tables import write_tables
from gmvae.reproduction.parameters import PROJECT_ROOT
from gmvae.reproduction.pipeline import EARLIER

RESULTS = PROJECT_ROOT / "results"


def test_every_committed_table_is_what_the_committed_logs_give(tmp_path):
    ours, original, kept = figures.load_logs(RESULTS)
    (tmp_path / EARLIER).mkdir()  # the precision study's agreement is written beside its runs, only
    written = write_tables(ours, tmp_path, original, kept)
    names = sorted(path.relative_to(tmp_path).as_posix() for path in written)
    assert {"claims.md", "fidelity.md", "fidelity_distributions.md", "run_table.md", "training_time.csv",
            f"{EARLIER}/precision.csv", f"{EARLIER}/precision.md"} <= set(names)
    for name in names:
        assert (tmp_path / name).read_text() == (RESULTS / name).read_text(), f"results/{name}: run `make figures`"


def test_committed_findings_page_is_what_the_committed_results_give():
    """docs/findings.md is written by `make figures` from results/: edited by hand, or left behind by a change to
    its generator or to the results, it fails here."""
    ours, original, _ = figures.load_logs(RESULTS)
    assert findings_path(RESULTS) == PROJECT_ROOT / "docs" / "findings.md"
    assert findings_path(RESULTS).read_text() == findings_markdown(RESULTS, ours, original), \
        "docs/findings.md: run `make figures`"
