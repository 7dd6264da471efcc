"""The chapters (notebooks 01-05) run by papermill on a made-up results tree in the post profile's shape
(tests/made_up_logs.py: write_profile_tree): four M2 and six GMVAE replicates to epoch 200, three modified M2 to 300
of which seed 1 turned NaN at 140, three clipped to 300, the open question's two variants to 50; every value apart
from seed to seed and from epoch to epoch. Each chapter must show its own runs with the tree's replicate counts, and
the numbers its prose and tables give must be the ones worked here from the tree's logs."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from gmvae.reporting.plots import HIGH_ACCURACY
from gmvae.reproduction.notebook_runner import NotebookError, run_notebook
from made_up_logs import PROFILE_TREE_NAN, write_profile_tree

pytestmark = pytest.mark.slow  # papermill runs five notebooks, about a minute

CHAPTERS = ["01_m2_failure.ipynb", "02_modified_m2.ipynb", "03_real_gmvae.ipynb", "04_overlay_comparison.ipynb",
            "05_open_questions.ipynb"]
NAN_SEED, NAN_EPOCH = 1, PROFILE_TREE_NAN["modified_m2", 1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The tree, and each chapter's executed copy and the text a reader sees of it (whitespace as single spaces)."""
    root = tmp_path_factory.mktemp("post_tree")
    logs = write_profile_tree(root, "post")
    shown = {}
    for name in CHAPTERS:
        try:
            executed = run_notebook(name, root, dict(profile="post", seeds=None, epochs=None, retrain=False,
                                                     results_dir=str(root), data_path=None))
        except NotebookError as error:
            pytest.fail(str(error))
        outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"
                   for o in c.get("outputs", [])]
        text = "\n".join(o.get("text") or o.get("data", {}).get("text/markdown", "") for o in outputs)
        shown[name] = " ".join(text.split())
    return {"root": root, "logs": logs, "shown": shown}


def mean_at(logs, run_name, epoch, column, seeds=None) -> float:
    """The mean over the run's seeds (or ``seeds``) of ``column`` at ``epoch``, from the logs the tree holds."""
    values = [log.loc[log["epoch"] == epoch, column].iloc[0] for (name, seed), log in logs.items()
              if name == run_name and (seeds is None or seed in seeds)]
    return float(np.mean(values))


def assert_record(text, run_name, seeds_epochs: dict[int, int]):
    """The training record names each run's log with its epochs, and only the tree's seeds of that run."""
    for seed, epochs in seeds_epochs.items():
        assert re.search(rf"{run_name} seed {seed}: \S+/runs/{run_name}/seed{seed}/log.csv, {epochs} epochs in float32",
                         text), (run_name, seed)
    logged = set(int(s) for s in re.findall(rf"(?<!\w){run_name} seed (\d+): \S+/log.csv", text))
    assert logged == set(seeds_epochs), run_name


def test_each_chapter_drew_its_own_figures(tree):
    figures = {p.name for p in (tree["root"] / "post" / "figures").glob("*.png")}
    assert {"m2_curves.png", "m2_curves_post_horizon.png", "modified_m2_curves.png",
            "modified_m2_curves_post_horizon.png", "modified_m2_clipping.png", "modified_m2_clipping_post_horizon.png",
            "gmvae_curves.png", "gmvae_curves_post_horizon.png", "gmvae_accuracy_per_replicate.png", "overlay.png",
            "overlay_post_horizon.png", "open_questions.png", "open_questions_post_horizon.png"} <= figures
    assert "modified_m2_variants.png" not in figures  # the post profile trains no decoder variant
    assert not list(tree["root"].glob("runs/*/seed*/checkpoints")), "a chapter trained on a complete tree"


def test_01_shows_the_four_m2_replicates(tree):
    text, logs = tree["shown"]["01_m2_failure.ipynb"], tree["logs"]
    assert_record(text, "m2", {0: 200, 1: 200, 2: 200, 3: 200})
    row = (f"| 10 | {mean_at(logs, 'm2', 10, 'test_entropy'):.3f} | {mean_at(logs, 'm2', 10, 'test_loss'):.2f} | "
           f"{mean_at(logs, 'm2', 10, 'test_accuracy'):.3f} |")
    assert row in text
    assert (f"Our M2 (4 runs) ends at epoch 200 with $H(y\\mid x)$ = {mean_at(logs, 'm2', 200, 'test_entropy'):.3f} "
            f"nats") in text
    assert f"M2 H(y\\|x) {mean_at(logs, 'm2', 200, 'test_entropy'):.3f} nats (epoch 200, 4 runs)" in text


def test_02_counts_the_nan_run_up_to_the_epoch_before_it(tree):
    text, logs = tree["shown"]["02_modified_m2.ipynb"], tree["logs"]
    assert_record(text, "modified_m2", {0: 300, NAN_SEED: NAN_EPOCH, 2: 300})
    assert_record(text, "modified_m2_clip", {0: 300, 1: 300, 2: 300})
    assert f"modified_m2 seed {NAN_SEED}: the loss became non-finite in epoch {NAN_EPOCH}" in text
    last = NAN_EPOCH - 1  # the last epoch all three logged a value
    assert (f"Our modified M2 (3 runs) at epoch {last}: accuracy "
            f"{mean_at(logs, 'modified_m2', last, 'test_accuracy'):.3f}") in text
    assert f"NaN.** Ours: {NAN_EPOCH} (last epoch logged 300)" in text
    # past the NaN the record's mean is the two other runs', and says so; the clipped runs are all three
    two = [0, 2]
    row = (f"| 150 | {mean_at(logs, 'modified_m2', 150, 'test_entropy', two):.3f} | "
           f"{mean_at(logs, 'modified_m2', 150, 'test_loss', two):.2f} | "
           f"{mean_at(logs, 'modified_m2', 150, 'test_accuracy', two):.3f} | 2 | "
           f"{mean_at(logs, 'modified_m2_clip', 150, 'test_entropy'):.3f} | "
           f"{mean_at(logs, 'modified_m2_clip', 150, 'test_loss'):.2f} | "
           f"{mean_at(logs, 'modified_m2_clip', 150, 'test_accuracy'):.3f} |")
    assert row in text
    assert f"NaN at epoch {NAN_EPOCH} (1 of 3 runs)" in text


def test_03_counts_the_six_replicates_above_80_percent(tree):
    text, logs = tree["shown"]["03_real_gmvae.ipynb"], tree["logs"]
    assert_record(text, "gmvae", {seed: 200 for seed in range(6)})
    accuracies = sorted(logs["gmvae", seed].set_index("epoch").loc[200, "test_accuracy"] for seed in range(6))
    above = sum(a > HIGH_ACCURACY for a in accuracies)
    assert 0 < above < 6, "the tree must tell k of N apart from none and all"
    assert (f"Our GMVAE (6 runs) at epoch 200: accuracy {np.mean(accuracies):.3f} (mean; each run: "
            f"{', '.join(f'{a:.3f}' for a in accuracies)}; {above} of 6 above {HIGH_ACCURACY:.2f})") in text
    # as in a fresh clone of a profile without committed figure data: no checkpoint, so no model figures
    assert "SKIPPED gmvae_samples.png and gmvae_confusion.png" in text
    assert not (tree["root"] / "post" / "figures" / "gmvae_samples.png").exists()


def test_04_compares_the_three_models_where_all_logged_and_writes_the_profiles_claims(tree):
    text, logs = tree["shown"]["04_overlay_comparison.ipynb"], tree["logs"]
    common = NAN_EPOCH - 1  # the last epoch every run of the three models logged a value
    losses = {name: mean_at(logs, run, common, "test_loss")
              for run, name in (("m2", "M2"), ("modified_m2", "modified M2"), ("gmvae", "GMVAE"))}
    by_loss = " < ".join(f"{name} {value:.2f}" for name, value in sorted(losses.items(), key=lambda kv: kv[1]))
    assert f"At epoch {common}**, the last all three models reached (means over runs): test loss {by_loss} nats" in text
    claims = pd.read_csv(tree["root"] / "post" / "claims.csv").set_index("claim")["measured"]
    assert claims["M2's q(y|x) becomes uniform"] == \
        f"M2 H(y|x) {mean_at(logs, 'm2', 200, 'test_entropy'):.3f} nats (epoch 200, 4 runs)"
    assert claims["Modified M2 turns NaN after a few hundred epochs"] == f"NaN at epoch {NAN_EPOCH} (1 of 3 runs)"


def test_05_compares_m2_and_its_variants_at_epoch_50(tree):
    text, logs = tree["shown"]["05_open_questions.ipynb"], tree["logs"]
    assert_record(text, "m2_iaf", {0: 50})
    assert_record(text, "m2_eta0", {0: 50})
    for run_name, runs in (("m2", "4 runs"), ("m2_iaf", "1 run"), ("m2_eta0", "1 run")):
        information = mean_at(logs, run_name, 50, "test_mutual_information")
        assert re.search(rf"\*\* at epoch 50 \({runs}\): \$I\(x;y\)\$ {information:.3f} nats", text), run_name
