"""What the chapters (notebooks 01-05) show: the model's source, the training record as a table, compact fidelity
views, the versions cell, and the shape every chapter shares."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from gmvae.reporting import chapters, claims
from gmvae.reproduction.parameters import NOTEBOOK_DIR
from made_up_logs import linear, run_log

CHAPTERS = sorted(p.name for p in NOTEBOOK_DIR.glob("0[1-5]_*.ipynb"))


def test_source_of_shows_each_named_method_dedented_under_its_name():
    from gmvae import models

    text = chapters.source_of(models.GMVAE.p_z, models.M2.p_x)
    assert text.startswith("```python\n# GMVAE.p_z\ndef p_z(self, y):\n") and text.endswith("\n```")
    assert "# M2.p_x\ndef p_x(self, z, y):\n    return self._bernoulli(" in text
    assert "pz_mean(y)" in text and "class " not in text


@pytest.mark.parametrize("last, expected", [
    (2, [1, 2]),
    (50, [1, 10, 20, 30, 40, 50]),
    (55, [1, 10, 20, 30, 40, 50, 55]),
    (300, [1, *range(10, 301, 10)]),   # 31 rows: the post profile's modified M2 still every tenth epoch
    (1000, [1, *range(40, 1001, 40)]),  # a blog log: every 40th, 26 rows
])
def test_milestones_every_tenth_epoch_or_a_coarser_multiple_of_ten(last, expected):
    assert chapters.milestones(last) == expected
    assert len(chapters.milestones(last)) <= chapters.RECORD_MAX_ROWS


def test_training_table_averages_the_runs_that_logged_each_epoch():
    """Seed 1 stops at epoch 12: epoch 20 is seed 0's value alone, and a "runs" column says so."""
    df = pd.concat([run_log("m2", 0, 20, loss=linear(100, -1), accuracy=0.2),
                    run_log("m2", 1, 12, loss=linear(110, -1), accuracy=0.4),
                    run_log("gmvae", 0, 20, loss=90, accuracy=0.8)], ignore_index=True)
    table = chapters.training_table(df).set_index("epoch")
    assert list(table.index) == [1, 10, 20]
    assert table.loc[1, "M2 loss"] == pytest.approx((99 + 109) / 2)
    assert table.loc[10, "M2 loss"] == pytest.approx((90 + 100) / 2)
    assert table.loc[20, "M2 loss"] == pytest.approx(80)
    assert table.loc[10, "M2 accuracy"] == pytest.approx(0.3) and table.loc[20, "M2 accuracy"] == pytest.approx(0.2)
    assert list(table["M2 runs"]) == [2, 2, 1]
    assert "GMVAE runs" not in table and list(table["GMVAE accuracy"]) == [0.8] * 3
    shorter = chapters.training_table(pd.concat([df, run_log("modified_m2", 0, 10)]))  # its one run ends at 10
    assert "modified M2 runs" not in shorter and list(shorter["modified M2 loss"].isna()) == [False, False, True]
    one_model = chapters.training_table(df[df["run_name"] == "gmvae"])
    assert list(one_model.columns) == ["epoch", "H(y|x)", "loss", "accuracy"]
    shown = chapters.format_table(table.reset_index())
    assert shown.loc[2, "M2 loss"] == "80.00" and shown.loc[2, "M2 accuracy"] == "0.200" and shown.loc[2, "M2 runs"] == "1"
    stopped = chapters.format_table(pd.DataFrame({"epoch": [30], "M2 loss": [np.nan], "M2 runs": [0]}))
    assert stopped.iloc[0].tolist() == ["30", "", ""], "an epoch no run reached is blank"


def test_last_epoch_means_peak_and_means_at():
    df = pd.concat([run_log("gmvae", 0, 5, accuracy=linear(0.1, 0.1)), run_log("gmvae", 1, 4, accuracy=linear(0.4, 0.1))],
                   ignore_index=True)
    finals = chapters.last_epoch_means(df, columns=("test_accuracy",)).loc["gmvae"]
    assert (finals["runs"], finals["epoch"]) == (2, 4)  # the last epoch both logged
    assert finals["test_accuracy"] == pytest.approx((0.5 + 0.8) / 2)
    best, epoch = chapters.peak(df, "gmvae")
    assert (best, epoch) == (pytest.approx(0.65), 4)  # epoch 5's 0.6 is seed 0 alone
    at = chapters.means_at(df, 5, columns=("test_accuracy",))
    assert at.loc["gmvae", "runs"] == 1 and at.loc["gmvae", "test_accuracy"] == pytest.approx(0.6)
    nan_at_5 = run_log("m2", 0, 5, nan_epoch=5)  # a run that turned NaN at 5 has no value there
    assert chapters.means_at(pd.concat([df, nan_at_5]), 5).index.tolist() == ["gmvae"]
    # a run that turned NaN at 4 logged its last value at 3: there the means are over all three runs
    nan_at_4 = run_log("gmvae", 2, 4, accuracy=linear(0.2, 0.1), nan_epoch=4)
    finals = chapters.last_epoch_means(pd.concat([df, nan_at_4]), columns=("test_accuracy",)).loc["gmvae"]
    assert (finals["runs"], finals["epoch"]) == (3, 3)
    assert finals["test_accuracy"] == pytest.approx((0.4 + 0.7 + 0.5) / 3)


def test_verdicts_quote_the_claims_table():
    table = pd.DataFrame({"claim": ["M2's q(y|x) becomes uniform", "GMVAE clusters best", "Our M2 lies inside"],
                          "measured": ["H 2.303", "0.8", "x"], "verdict": ["supported", "supported", "not supported"]})
    assert chapters.verdicts(table, "M2's", "Our M2 ") == ("M2's q(y|x) becomes uniform: **supported** (H 2.303); "
                                                          "Our M2 lies inside: **not supported** (x)")


def test_fidelity_and_distribution_summaries_count_per_model_and_metric():
    fidelity = pd.DataFrame({"source": "ours", "run_name": "m2", "metric": "loss", "epoch": [1, 1, 1, 50, 50],
                             "run": ["seed 0", "seed 1", "mean", "seed 0", "seed 1"],
                             "inside": [True, False, True, True, True]})
    kept = fidelity.assign(source="earlier", inside=False)
    summary = chapters.fidelity_summary(pd.concat([fidelity, kept]))
    assert summary.to_dict("records") == [{"model": "M2", "metric": "loss", "epoch 1": "1/2", "epoch 50": "2/2"}]
    distributions = pd.DataFrame({"source": "ours", "run_name": "gmvae", "metric": "accuracy", "epoch": [50, 100],
                                  "verdict": ["equivalent", "undecided"], "ours_n": [6, 6], "original_n": [7, 3]})
    assert chapters.distribution_summary(distributions).to_dict("records") == [
        {"model": "GMVAE", "metric": "accuracy", "epoch 50": "equivalent (6 vs 7)", "epoch 100": "undecided (6 vs 3)"}]


def test_y_usage_by_seed_judges_each_seed_on_its_own():
    """Two seeds used y, one did not: the mean (I = 0.99) would read "undecided"."""
    frames = [run_log("m2_iaf", seed, 3, accuracy=0.2).assign(test_mutual_information=info, source=source)
              for seed, info, source in ((0, 1.76, "ours"), (1, 0.0, "earlier"), (2, 1.21, "earlier"))]
    table = claims.y_usage_by_seed(pd.concat(frames, ignore_index=True), "m2_iaf")
    assert list(table["seed"]) == [1, 2, 0]  # by source, then seed
    assert dict(zip(table["seed"], table["verdict"])) == {0: "y used, not for the digit", 1: "y unused",
                                                          2: "y used, not for the digit"}
    assert "I(x; y) 1.760 nats" in table.loc[table["seed"] == 0, "measured"].iloc[0]


def test_time_text_sums_the_logged_seconds():
    df = pd.concat([run_log("m2", 0, 4).assign(seconds=30.0, processor="cpu", precision="float32"),
                    run_log("m2", 1, 4).assign(seconds=[20.0, 20.0, 20.0, 100.0], processor="cpu", precision="float32")],
                   ignore_index=True)
    text = chapters.time_text(df)
    assert "2 runs, a median epoch of 20.0-30.0 s, 2.0-2.7 minutes a run, 4.7 minutes of one core in all" in text


def test_versions_name_the_libraries_the_processor_and_the_precisions():
    from gmvae.quiet_import import tf, tfp

    df = run_log("m2").assign(precision="mixed_bfloat16", processor="AMD EPYC")
    lines = chapters.versions(df).splitlines()
    assert f"TensorFlow: {tf.__version__}" in lines and f"TensorFlow Probability: {tfp.__version__}" in lines
    assert lines[0].startswith("Python: 3.") and any(line.startswith("precision (auto): ") for line in lines)
    assert lines[-1] == "the runs shown trained in: mixed_bfloat16 on AMD EPYC"


# ---------------------------------------------------------------------------------- the chapters' shape

HEADINGS = ["The question", "The model", "reasoning", "The training record", "What we saw", "References", "Versions"]


def _cells(name):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4).cells


def test_there_are_five_chapters():
    assert len(CHAPTERS) == 5


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_has_the_post_s_order_of_sections(name):
    headings = [line[3:] for c in _cells(name) if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    positions = [next((i for i, h in enumerate(headings) if part in h), None) for part in HEADINGS]
    assert None not in positions, f"{name}: headings {headings} lack one of {HEADINGS}"
    assert positions == sorted(positions), f"{name}: sections out of order: {headings}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_shows_its_model_links_the_post_and_ends_with_what_produced_it(name):
    cells = _cells(name)
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "chapters.source_of(models." in code
    assert chapters.POST_URL in text.split("## References")[0], "the question links the post"
    references = text.split("## References")[1]
    for needed in ("arXiv:1406.5298", "arXiv:1611.02648", chapters.POST_URL, "github.com/RuiShu/vae-clustering"):
        assert needed in references, f"{name}: references lack {needed}"
    assert cells[-1].cell_type == "code" and "chapters.versions(" in cells[-1].source
    assert ("loss.negative_elbo" in code) is name.startswith("01_"), "the loss is shown once, in chapter 1"


@pytest.mark.parametrize("name", CHAPTERS)
def test_what_we_saw_is_written_by_code_from_the_logs(name):
    """The cell after the "What we saw" heading builds Markdown from an f-string; its prose holds no typed
    measurement (a decimal number outside the braces)."""
    cells = _cells(name)
    at = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## What we saw" in c.source)
    source = cells[at + 1].source
    assert cells[at + 1].cell_type == "code" and 'Markdown(f"""' in source
    template = source.split('Markdown(f"""')[1]
    outside_braces = template
    while re.search(r"\{[^{}]*\}", outside_braces):  # replacement fields, nested ones too
        outside_braces = re.sub(r"\{[^{}]*\}", "", outside_braces)
    assert not re.findall(r"\d+\.\d+", outside_braces), f"{name}: typed numbers in What we saw"
    assert not re.search(r"\d+\.\d+", cells[at].source)
