"""Every notebook, smoke-run through papermill in order (00..04) into one temporary results folder.

Needs MNIST: $GMVAE_MNIST, or the per-user cache file. Without either the papermill tests are skipped,
and the run says how many at the top (CI sets GMVAE_MNIST, and fails without it). The structural tests
(coverage of the list, stripped outputs, parameters cell) always run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from gmvae import runs
from gmvae.reporting import figures, tables
from gmvae.reproduction import notebook_runner, parameters, pipeline
from gmvae.reproduction.notebook_runner import NotebookError, run_notebook
from gmvae.reproduction.parameters import NOTEBOOK_DIR
from gmvae.reproduction.profiles import get_profile

SMOKE_NOTEBOOKS = list(notebook_runner.NOTEBOOKS)  # every notebook, in the order they must run
FIGURE_NOTEBOOKS = [n for n in SMOKE_NOTEBOOKS if not n.startswith("00_")]


needs_mnist = pytest.mark.needs_mnist  # skipped, loudly, without the file (conftest.py); never in CI


# ---------------------------------------------------------------------------------- structure


def test_every_notebook_is_in_the_smoke_list():
    on_disk = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
    missing = [n for n in on_disk if n not in SMOKE_NOTEBOOKS]
    assert not missing, f"notebooks not covered by notebook_runner.NOTEBOOKS (and so by the smoke run): {missing}"
    assert sorted(SMOKE_NOTEBOOKS) == on_disk, "notebook_runner.NOTEBOOKS lists notebooks that do not exist"
    assert SMOKE_NOTEBOOKS == sorted(SMOKE_NOTEBOOKS), "notebooks must run in the order of their numbers"


@pytest.mark.parametrize("name", SMOKE_NOTEBOOKS)
def test_source_notebook_is_stripped_with_one_parameters_cell(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {i} has outputs: run `make clean-notebooks`"
            assert cell.execution_count is None, f"{name} cell {i} has an execution count: run `make clean-notebooks`"
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name} must have exactly one cell tagged 'parameters', has {len(tagged)}"
    source = nb.cells[tagged[0]].source
    for parameter in ("profile", "seeds", "epochs", "retrain", "results_dir", "data_path"):
        assert f"{parameter} =" in source, f"{name}: parameters cell lacks {parameter}"
    assert nb.cells[0].cell_type == "markdown"
    # papermill must be able to read every parameter (it skips lines with more than one "=")
    import papermill

    assert set(papermill.inspect_notebook(str(NOTEBOOK_DIR / name))) == {
        "profile", "seeds", "epochs", "retrain", "results_dir", "data_path"}


# ---------------------------------------------------------------------------------- smoke runs


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """One results folder shared by the notebooks, which run in order (04 reads 01-03's logs)."""
    return {"out": tmp_path_factory.mktemp("smoke_results"), "executed": {}}


def smoke_parameters(out) -> dict:
    return dict(profile="smoke", seeds=None, epochs=None, retrain=False, results_dir=str(out), data_path=None)


def _sources_mtimes():
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in NOTEBOOK_DIR.glob("*.ipynb")}


@needs_mnist
@pytest.mark.slow
@pytest.mark.parametrize("name", SMOKE_NOTEBOOKS)
def test_notebook_smoke(name, smoke_results):
    out = smoke_results["out"]
    before = _sources_mtimes()
    index = SMOKE_NOTEBOOKS.index(name)
    for earlier in SMOKE_NOTEBOOKS[:index]:
        if earlier not in smoke_results["executed"]:
            pytest.skip(f"{earlier} did not run before {name} (run the notebooks in order)")
    try:
        executed = run_notebook(name, out, smoke_parameters(out))
    except NotebookError as error:
        pytest.fail(str(error))
    smoke_results["executed"][name] = executed

    # the executed copy went to the temporary folder's profile folder, and the source is untouched
    assert executed == out / "smoke" / "executed" / name and executed.is_file()
    assert out in executed.parents and NOTEBOOK_DIR not in executed.parents
    assert _sources_mtimes() == before, "the source notebooks changed while running"

    nb = nbformat.read(executed, as_version=4)
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name} has error outputs: {errors}"
    assert any(c.get("execution_count") for c in nb.cells if c.cell_type == "code")

    if name in FIGURE_NOTEBOOKS:
        expected = {
            "01_m2_failure.ipynb": ["m2_curves.png", "m2_curves_post_horizon.png"],
            "02_modified_m2.ipynb": ["modified_m2_curves.png", "modified_m2_curves_post_horizon.png"],
            "03_real_gmvae.ipynb": ["gmvae_curves.png", "gmvae_curves_post_horizon.png", "gmvae_samples.png",
                                    "gmvae_confusion.png"],
            "04_overlay_comparison.ipynb": ["overlay.png", "overlay_post_horizon.png"],
            "05_open_questions.ipynb": ["open_questions.png", "open_questions_post_horizon.png"],
        }[name]
        for figure in expected:
            path = out / "smoke" / "figures" / figure
            assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {path}"
    if name == "04_overlay_comparison.ipynb":
        for table in ("claims.csv", "claims.md", "run_table.csv", "run_table.md", "fidelity.csv", "fidelity.md",
                      "training_time.csv", "training_time.md"):
            assert (out / "smoke" / table).is_file(), f"{name} did not write {table}"
        for run_name, notebook in (("m2", "01_m2_failure"), ("modified_m2", "02_modified_m2"), ("gmvae", "03_real_gmvae")):
            assert (out / "runs" / run_name / "seed0" / "log.csv").is_file()
            command = runs.read_record(out / "runs" / run_name / "seed0")["provenance"]["command"]
            assert command.endswith(f"[notebook {notebook}.ipynb]"), command


@needs_mnist
@pytest.mark.slow
def test_smoke_runs_left_figures_and_redraw_works(smoke_results):
    out = smoke_results["out"]
    if len(smoke_results["executed"]) != len(SMOKE_NOTEBOOKS):
        pytest.skip("the notebook smoke runs did not all complete")
    assert len(list((out / "smoke" / "figures").glob("*.png"))) >= len(FIGURE_NOTEBOOKS)
    assert not (out / "figures").exists() and not (out / "claims.md").exists(), \
        "a profile's notebooks wrote over what `make figures` draws from every log"
    report = figures.redraw_figures(out, verbose=False)
    curves = {"m2_curves", "modified_m2_curves", "gmvae_curves", "overlay", "open_questions"}
    assert {p.name for p in report["written"]} == ({f"{c}.png" for c in curves} | {f"{c}_post_horizon.png" for c in curves}
                                                   | {"gmvae_samples.png", "gmvae_confusion.png",
                                                      "gmvae_accuracy_per_replicate.png", "graphical_models.png"})
    assert set(report["skipped"]) == {"modified_m2_variants.png", "modified_m2_variants_post_horizon.png",
                                      "modified_m2_clipping.png", "modified_m2_clipping_post_horizon.png",
                                      "nan_drift.png"}


@needs_mnist
@pytest.mark.slow
def test_a_rerun_on_unchanged_logs_leaves_notebooks_and_figures_byte_identical(smoke_results):
    """01 trained its run in the smoke sequence; run again on the same logs it trains nothing, and its
    executed copy must not change (no timings, no machine paths, the training record from log.csv)."""
    out = smoke_results["out"]
    names = [n for n in ("01_m2_failure.ipynb", "03_real_gmvae.ipynb") if n in smoke_results["executed"]]
    if len(names) < 2:
        pytest.skip("the notebook smoke runs did not complete")
    drawn = out / "smoke"
    before = {p: p.read_bytes() for p in [*(drawn / "figures").glob("*.png"), *(drawn / "executed" / n for n in names)]}
    for name in names:
        run_notebook(name, out, smoke_parameters(out))
    changed = [p.name for p, content in before.items() if p.read_bytes() != content]
    assert not changed, f"re-running on unchanged logs changed {changed}"
    outputs = [o for c in nbformat.read(drawn / "executed" / names[0], as_version=4).cells if c.cell_type == "code"
               for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert re.search(r"m2 seed 0: \S+/runs/m2/seed0/log.csv, 2 epochs in ", text), "the training record's log is not named"
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "| epoch | H(y\\|x) | loss | accuracy |\n| --- | --- | --- | --- |\n| 1 | " in shown, "no training record table"
    assert "cuInit" not in text and "oneDNN" not in text


def test_kernels_get_gmvae_mnist_as_an_absolute_path(tmp_path, monkeypatch):
    """Kernels run in notebooks/: `GMVAE_MNIST=data/mnist.npz make reproduce` means data/ beside the caller."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GMVAE_MNIST", "data/mnist.npz")
    with notebook_runner._kernel_environment(False, "01_m2_failure.ipynb"):
        assert os.environ["GMVAE_MNIST"] == str(tmp_path / "data" / "mnist.npz")
    assert os.environ["GMVAE_MNIST"] == "data/mnist.npz"


@needs_mnist
@pytest.mark.slow
def test_failing_notebook_gives_one_line_error(smoke_results, tmp_path):
    """A bad parameter stops the notebook in the validation cell; the error names notebook and cell."""
    if "00_index.ipynb" not in smoke_results["executed"]:
        pytest.skip("00_index did not run")
    with pytest.raises(NotebookError) as info:
        run_notebook("00_index.ipynb", tmp_path,
                              dict(profile="nonsense", results_dir=str(tmp_path)))
    message = str(info.value)
    assert "\n" not in message
    assert "00_index.ipynb" in message and "cell" in message and "allowed profiles" in message
    assert str(tmp_path / "nonsense" / "executed" / "00_index.ipynb") in message


@needs_mnist
@pytest.mark.slow
def test_gmvae_notebook_without_checkpoint_draws_the_model_figures_from_the_kept_figure_data(smoke_results, tmp_path):
    """As in a fresh clone (checkpoints are not committed): with the figure data `make figures` keeps, notebook 03
    draws the sample grid and confusion matrix besides the curves. (From the logs alone it says what it skipped:
    tests/test_chapters_on_a_made_up_tree.py.)"""
    import shutil

    if "03_real_gmvae.ipynb" not in smoke_results["executed"]:
        pytest.skip("03_real_gmvae did not run")
    shutil.copytree(smoke_results["out"] / "runs" / "gmvae", tmp_path / "runs" / "gmvae",
                    ignore=shutil.ignore_patterns("checkpoints"))
    (tmp_path / "smoke" / figures.MODEL_FIGURE_DATA).parent.mkdir(parents=True)
    shutil.copy(smoke_results["out"] / "smoke" / figures.MODEL_FIGURE_DATA, tmp_path / "smoke" / figures.MODEL_FIGURE_DATA)
    executed = run_notebook("03_real_gmvae.ipynb", tmp_path, dict(profile="smoke", results_dir=str(tmp_path)))
    text = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                   if c.cell_type == "code" for o in c.get("outputs", []))
    assert "SKIPPED gmvae_samples.png" not in text
    assert (tmp_path / "smoke" / "figures" / "gmvae_curves.png").is_file()
    for name in figures.MODEL_FIGURES:
        assert (tmp_path / "smoke" / "figures" / name).is_file()
    assert not (tmp_path / "runs" / "gmvae" / "seed0" / "checkpoints").exists(), "it must not have retrained"


def test_committed_executed_notebooks_hold_no_machine_paths_or_tensorflow_chatter():
    """Every executed copy under results/, the current ones and those kept with earlier runs, each set whole."""
    root = NOTEBOOK_DIR.parent
    scratch = root / "results" / parameters.SCRATCH  # git-ignored: notebooks run with a reader's parameters
    folders = sorted({p.parent for p in (root / "results").rglob("executed/*.ipynb") if scratch not in p.parents})
    assert folders
    for folder in folders:
        assert sorted(p.name for p in folder.glob("*.ipynb")) == SMOKE_NOTEBOOKS, folder
    for path in (p for folder in folders for p in folder.glob("*.ipynb")):
        text = path.read_text()
        assert str(root) not in text and "cuInit" not in text and "oneDNN" not in text, path.name
        assert '"start_time"' not in text and '"duration"' not in text, path.name


def test_the_readme_shows_the_claims_table_of_every_committed_log():
    """README.md holds results/claims.csv's table without the rules (`make figures` writes it): a new run that
    changes a verdict changes README too."""
    root = NOTEBOOK_DIR.parent
    table = tables.readme_claims_markdown(pd.read_csv(root / "results" / "claims.csv"))
    assert f"{tables.README_CLAIMS_START}\n{table}{tables.README_CLAIMS_END}" in (root / "README.md").read_text()


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation but hyphens and underscores dropped, spaces as
    hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_and_the_guides_link_to_files_and_headings_that_exist():
    """Every relative link of README.md, docs/findings.md, docs/glossary.md and docs/your_own_model.md names a file
    that exists and, after #, a heading of it; README stays a guide of at most 150 lines."""
    root = NOTEBOOK_DIR.parent
    pages = [root / "README.md", *(root / "docs" / name for name in ("findings.md", "glossary.md", "your_own_model.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)  # links in code blocks are not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                if anchor not in {_github_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken
    assert len((root / "README.md").read_text().splitlines()) <= 150


# ---------------------------------------------------------------------------------- a reader's parameters


@pytest.mark.parametrize("profile, seeds, epochs, own", [
    ("cpu", None, None, True),
    ("cpu", None, 50, True),          # the profile's epochs, given
    ("smoke", [0], 2, True),          # the profile's seeds and epochs, given
    ("smoke", 0, None, True),         # one seed as an integer
    ("cpu", [0], None, False),        # the cpu profile trains GMVAE with seeds 0 and 1
    ("cpu", None, 20, False),
    ("cpu", [1, 2], 20, False),       # what a reader changing notebook 01's parameters cell gave
    ("post", None, 200, False),       # post's modified M2 runs 300 epochs
    ("post", [0, 1, 2, 3, 4, 5], None, False),
    ("smoke", [1], None, False),
])
def test_which_parameters_are_the_profiles_own(profile, seeds, epochs, own):
    assert parameters.is_profile_own(profile, seeds, epochs) is own
    assert (parameters.output_dir("/r", profile, seeds, epochs) == Path("/r") / profile) is own
    assert (parameters.parameters_label(profile, seeds, epochs) == "") is own


def test_other_parameters_go_to_a_scratch_folder_named_after_them():
    assert parameters.scratch_dir("/r", "cpu", [1, 2], 20) == Path("/r/scratch/cpu-seeds1_2-epochs20")
    assert parameters.output_dir("/r", "cpu", [1, 2], 20) == Path("/r/scratch/cpu-seeds1_2-epochs20")
    assert parameters.output_dir("/r", "cpu", None, 20) == Path("/r/scratch/cpu-epochs20")
    assert parameters.output_dir("/r", "cpu", [0], 50) == Path("/r/scratch/cpu-seeds0")  # 50: cpu's own epochs
    many = parameters.parameters_label("blog", list(range(10)))
    assert many.startswith("seeds10x") and len(many) == len("seeds10x") + 8
    assert many != parameters.parameters_label("blog", list(range(1, 11)))
    # relative paths as the notebooks give them: under the repository's results/, which git ignores
    scratch = parameters.output_dir("../results", "smoke", [1, 2], 3)
    assert scratch == NOTEBOOK_DIR.parent.resolve() / "results" / "scratch" / "smoke-seeds1_2-epochs3"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(scratch / "figures" / "m2_curves.png")],
                             cwd=NOTEBOOK_DIR.parent)
    assert ignored.returncode == 0, "results/scratch/ must be git-ignored"


def test_the_notebooks_say_where_their_outputs_go():
    assert parameters.output_note("../results", "cpu") == (
        "figures and tables go to results/cpu/ (profile 'cpu', its own seeds and epochs)")
    note = parameters.output_note("../results", "cpu", [1, 2], 20)
    assert "\n" not in note and "seeds [1, 2], epochs 20" in note
    assert "results/scratch/cpu-seeds1_2-epochs20/" in note


def _write_run(results_dir, config, epochs, *, checkpoint=False):
    d = runs.run_dir(results_dir, config.run_name, config.seed)
    runs.write_log(d, pd.DataFrame({"epoch": range(1, epochs + 1)}).reindex(columns=runs.LOG_COLUMNS))
    runs.write_record(d, {"config": dataclasses.asdict(config.replace(epochs=epochs)),
                          "status": {"completed_epochs": epochs, "nan_epoch": None, "finished": True}})
    if checkpoint:
        (d / "checkpoints").mkdir()
        (d / "checkpoints" / "ckpt-1.index").write_text("weights")
    return d


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_runs_of_other_parameters_are_copies_in_the_scratch_folder(tmp_path):
    """The committed runs that other seeds or epochs can use are read and extended as copies: results_dir/runs
    stays byte for byte as it was, and runs of other seeds train in the scratch folder."""
    cpu = get_profile("cpu")
    m2 = cpu.configs("m2")[0]
    complete = _write_run(tmp_path, m2.replace(seed=1), 200)                # the post profile's, longer
    short = _write_run(tmp_path, m2.replace(seed=2), 10, checkpoint=True)   # to extend
    other = _write_run(tmp_path, m2.replace(seed=3, hidden=8), 200)        # another configuration
    before = _files(tmp_path / "runs")
    assert pipeline.runs_root("cpu", tmp_path) == tmp_path                   # the profile's own: in place
    scratch = pipeline.runs_root("cpu", tmp_path, seeds=[1, 2, 3, 4], epochs=20)
    assert scratch == tmp_path / "scratch" / "cpu-seeds1_2_3_4-epochs20"
    assert _files(tmp_path / "runs") == before
    copy = runs.run_dir(scratch, "m2", 1)
    assert (copy / "log.csv").read_bytes() == (complete / "log.csv").read_bytes()
    assert (runs.run_dir(scratch, "m2", 2) / "checkpoints" / "ckpt-1.index").read_text() == "weights"
    assert not runs.run_dir(scratch, "m2", 3).exists() and not runs.run_dir(scratch, "m2", 4).exists()
    # what is left to train is in the scratch folder: m2 seed 2 to extend, seeds 3 and 4 from epoch 1, ...
    todo = pipeline.pending_runs("cpu", scratch, seeds=[1, 2, 3, 4], epochs=20)
    assert all(scratch in d.parents for _, d in todo)
    assert {(c.run_name, c.seed) for c, _ in todo if c.run_name == "m2"} == {("m2", 2), ("m2", 3), ("m2", 4)}
    # ... and a copy already there is the scratch folder's own: not copied again
    runs.write_log(copy, runs.read_log(copy).head(5))
    pipeline.runs_root("cpu", tmp_path, seeds=[1, 2, 3, 4], epochs=20)
    assert len(runs.read_log(copy)) == 5
    assert short.is_dir() and other.is_dir() and _files(tmp_path / "runs") == before


def _clone_of_the_repository(tmp_path) -> Path:
    """The repository's tracked files as they are in the working tree, committed in a new repository."""
    root = NOTEBOOK_DIR.parent
    clone = tmp_path / "clone"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (root / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, clone / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run(git + command, cwd=clone, check=True)
    return clone


@pytest.mark.slow
@pytest.mark.parametrize("profile", [
    "cpu",  # reads copies of the committed runs of seeds 1 and 2, trains nothing (training there: the copies' test)
])
def test_a_readers_changed_parameters_leave_the_committed_results_as_they_are(tmp_path, monkeypatch, profile):
    """Notebook 01 run in a copy of the repository with a reader's seeds and epochs, its results_dir the default:
    git sees no change, and the figures are in the scratch folder the notebook names."""
    clone = _clone_of_the_repository(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(clone / "lib"))  # the kernel's gmvae, and so its notebooks/ and results/
    given = dict(profile=profile, seeds=[1, 2], epochs=3, retrain=False, results_dir="../results", data_path=None)
    executed = run_notebook("01_m2_failure.ipynb", clone / "results", given, notebook_dir=clone / "notebooks")

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", f"running notebook 01 with other parameters changed the repository:\n{status}"
    scratch = clone / "results" / "scratch" / f"{profile}-seeds1_2-epochs3"
    assert executed == scratch / "executed" / "01_m2_failure.ipynb"
    for figure in ("m2_curves.png", "m2_curves_post_horizon.png"):
        assert (scratch / "figures" / figure).stat().st_size > 0
    for seed in (1, 2):
        assert len(runs.read_log(runs.run_dir(scratch, "m2", seed))) >= 3
    text = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                   if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"go to results/scratch/{profile}-seeds1_2-epochs3/" in text
