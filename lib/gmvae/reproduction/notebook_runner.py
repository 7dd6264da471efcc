"""Running the notebooks headless with papermill: one notebook, the whole reproduction, and keeping the
source notebooks free of outputs.

Executed copies go to <out>/<profile>/executed/, never over the source notebooks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import pandas as pd

from gmvae import runs
from gmvae.reporting.figures import MODEL_FIGURE_DATA
from gmvae.reproduction.local_training import default_jobs, train_runs
from gmvae.reproduction.parameters import (EXECUTORS, NOTEBOOK_DIR, display_path, notebook_path, output_dir,
                                           output_note, profile_output_dir, resolve_path, validate_parameters)
from gmvae.reproduction.pipeline import pending_runs, runs_root
from gmvae.reproduction.profiles import get_profile
from gmvae.reproduction.progress import ReproductionProgress

# Every notebook, in the order they must run (04 draws from the logs 01-03 write; 05 trains two M2
# variants and compares them with 01's M2).
NOTEBOOKS = [
    "00_index.ipynb",
    "01_m2_failure.ipynb",
    "02_modified_m2.ipynb",
    "03_real_gmvae.ipynb",
    "04_overlay_comparison.ipynb",
    "05_open_questions.ipynb",
]

DEFAULT_KERNEL = "python3"


class NotebookError(RuntimeError):
    """A notebook of the reproduction failed; the message is one line and names the notebook and cell."""


# What each notebook writes under results_dir/<profile>/ (besides run logs in results_dir/runs/<run_name>/seed<k>/),
# or with other seeds or epochs than the profile's under its scratch folder (parameters.output_dir).
# Each curve figure comes twice: at our horizon and at the post's (<name>_post_horizon.png).
NOTEBOOK_OUTPUTS = {
    "01_m2_failure.ipynb": ("figures/m2_curves.png",),
    "02_modified_m2.ipynb": ("figures/modified_m2_curves.png", "figures/modified_m2_clipping.png (post profile only)",
                             "figures/modified_m2_variants.png (blog profile only)"),
    "03_real_gmvae.ipynb": ("figures/gmvae_curves.png", "figures/gmvae_accuracy_per_replicate.png",
                            f"{MODEL_FIGURE_DATA.as_posix()} (needs a checkpoint)",
                            "figures/gmvae_samples.png", "figures/gmvae_confusion.png"),
    "04_overlay_comparison.ipynb": ("figures/overlay.png", "claims.csv", "claims.md", "run_table.csv", "run_table.md",
                                    "fidelity.csv", "fidelity.md", "fidelity_distributions.csv",
                                    "fidelity_distributions.md", "training_time.csv", "training_time.md"),
    "05_open_questions.ipynb": ("figures/open_questions.png", "claims.md (with the open question's verdicts)"),
}


def outputs_status(results_dir, profile: str, seeds=None, epochs=None) -> pd.DataFrame:
    """Which of the notebooks' outputs for ``profile`` (with ``seeds`` and ``epochs``) exist in
    parameters.output_dir: results_dir/<profile>/ or the scratch folder (for the index notebook)."""
    out = output_dir(results_dir, profile, seeds, epochs)
    folder = out.relative_to(resolve_path(results_dir)).as_posix()
    rows = [{"notebook": nb, "output": f"{folder}/{output}", "exists": (out / output.split(" (")[0]).exists()}
            for nb, outputs in NOTEBOOK_OUTPUTS.items() for output in outputs]
    return pd.DataFrame(rows)


def _check_kernel(kernel_name: str) -> None:
    """Fail early, in one line, if the Jupyter kernel cannot be found."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise NotebookError(f"no Jupyter kernel named {kernel_name!r}: install ipykernel into this environment "
                            f"({sys.executable} -m pip install ipykernel)") from None
    exe = spec.argv[0] if spec.argv else ""
    if exe not in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}") and \
            Path(exe).resolve() != Path(sys.executable).resolve():
        print(f"warning: kernel {kernel_name!r} runs {exe}, not this interpreter ({sys.executable}); "
              f"gmvae must be installed there too", file=sys.stderr)


@contextlib.contextmanager
def _kernel_environment(progress: bool, notebook: str):
    """Environment the notebook kernels inherit: no progress bars (unless asked: they would fill the
    executed copies with thousands of lines), TensorFlow's C++ INFO messages off (unless already set),
    this process's command and the notebook's name for the provenance of the runs it trains, and
    GMVAE_MNIST made absolute (the kernels run in notebooks/, where a path relative to here would miss)."""
    saved = {k: os.environ.get(k) for k in ("GMVAE_PROGRESS", "TF_CPP_MIN_LOG_LEVEL", runs.COMMAND_VARIABLE,
                                            "GMVAE_MNIST")}
    if os.environ.get("GMVAE_MNIST"):
        os.environ["GMVAE_MNIST"] = str(Path(os.environ["GMVAE_MNIST"]).expanduser().absolute())
    os.environ["GMVAE_PROGRESS"] = "1" if progress else "0"
    os.environ[runs.COMMAND_VARIABLE] = f"{runs.command_line()} [notebook {notebook}]"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(name: str, out, parameters: dict, *, kernel_name=DEFAULT_KERNEL, log_output=False,
                 notebook_dir=None, progress=False) -> Path:
    """Execute one notebook with papermill into ``<out>/<profile>/executed/<name>`` (never over the source;
    ``profile`` as in ``parameters``), or with other ``seeds`` or ``epochs`` in ``parameters`` than the profile's
    into ``executed/`` of their scratch folder (parameters.output_dir), where the notebook writes its figures.

    The kernel's working directory is the notebooks folder. ``progress``: training progress bars in
    the executed copy (off: one line per trained run instead). ``log_output``: echo the notebook's
    output to this process's log as it runs. Raises NotebookError (one line: notebook, cell, error,
    and where the executed copy with the full traceback is) if a cell fails.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    notebook_dir = Path(notebook_dir) if notebook_dir is not None else NOTEBOOK_DIR
    source = notebook_dir / name
    if not source.is_file():
        raise NotebookError(f"notebook {source} not found")
    try:
        out_dir = output_dir(out, parameters["profile"], parameters.get("seeds"), parameters.get("epochs"))
    except (ValueError, TypeError):  # bad parameters: the notebook's first cell says what is wrong
        out_dir = profile_output_dir(out, parameters["profile"])
    executed = out_dir / "executed" / name
    executed.parent.mkdir(parents=True, exist_ok=True)
    if executed.resolve() == source.resolve():
        raise NotebookError(f"refusing to write the executed copy over the source notebook {source}")
    try:
        with _kernel_environment(progress, name):
            # TensorFlow's C++ start-up lines (oneDNN, CUDA probes) go to the kernel's file descriptors; not
            # capturing those keeps them out of the executed copy, where they came and went between runs.
            pm.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name=kernel_name,
                                cwd=str(notebook_dir), progress_bar=False, log_output=log_output,
                                extra_arguments=["--IPKernelApp.capture_fd_output=False",
                                                 "--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as e:
        first_line = next((l for l in (e.source or "").splitlines() if l.strip()), "").strip()
        # "In [n]" is how the executed copy labels the cell (papermill adds a banner cell pointing to it)
        where = f"cell In [{e.exec_count}]" + (f" ({first_line[:60]})" if first_line else "")
        evalue = " ".join(str(e.evalue).split())
        raise NotebookError(f"notebook {name} failed in {where}: {e.ename}: {evalue[:400]} "
                            f"-- full traceback in {executed}") from None
    _drop_run_specifics(executed)
    return executed


_TIMINGS = ("start_time", "end_time", "duration")


def _drop_run_specifics(path: Path) -> None:
    """Remove what differs between two executions of the same notebook on the same logs (papermill's
    timings, the machine's absolute paths, where the kernel cut its printed text), so that an executed
    copy changes only when its results do."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in _TIMINGS:
        meta.pop(key, None)
    for key in ("input_path", "output_path"):
        if key in meta:
            meta[key] = display_path(meta[key])
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill gives it a random id each run
        cell.metadata.pop("execution", None)
        for key in _TIMINGS:
            cell.metadata.get("papermill", {}).pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = _merged_streams(cell.outputs)
    nbformat.write(nb, path)


def _merged_streams(outputs: list) -> list:
    """Consecutive prints to one stream as one output: how the kernel's messages were cut depends on timing."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def _training_summary(profile_name, seeds, epochs, missing: int) -> str:
    """What the profile trains, how long that takes from empty run folders, and how many of its runs are still
    to train."""
    profile = get_profile(profile_name)
    total = sum(len(profile.configs(run_name, seeds=seeds)) for run_name in profile.seeds)
    cut = f"{epochs} epoch{'s' if epochs != 1 else ''} a run instead of the profile's"
    duration = profile.expected_time if epochs is None else f"{cut}, so its time ({profile.expected_time}) does not hold"
    to_do = (f"{missing} of its {total} runs to train" if missing
             else f"all {total} runs are in: the notebooks only draw")
    return f"reproduce: profile {profile_name!r} trains {profile.description} ({duration}); {to_do}"


def reproduce(profile, out="results", data_path=None, *, seeds=None, epochs=None, retrain=False,
              notebooks=None, kernel_name=DEFAULT_KERNEL, log_output=False, progress=False,
              jobs: int | None = None, executor: str = "local", address: str | None = None,
              cpus_per_run: float = 1, gpus_per_run: float = 0) -> list[Path]:
    """Train the profile's missing runs, then run the notebooks in order with papermill, which only draw;
    return the executed copies.

    ``executor`` "local": the runs train on this machine, ``jobs`` at a time (default: one per core, each
    pinned to its core; gmvae.reproduction.local_training). "ray": each run is a task on the Ray cluster at
    ``address`` (None: a Ray started here for the session) asking for ``cpus_per_run`` CPUs and
    ``gpus_per_run`` GPUs (gmvae.reproduction.ray_training).

    Parameters are passed to every notebook: ``profile``, ``seeds``, ``epochs``, ``retrain``,
    ``results_dir`` (= ``out``, made absolute) and ``data_path``. Run logs go to ``<out>/runs/<run_name>/seed<k>/``
    (shared by every profile); executed copies to ``<out>/<profile>/executed/<name>.ipynb``, figures to
    ``<out>/<profile>/figures/`` and tables to ``<out>/<profile>/`` (what ``make figures`` draws from every log in
    ``<out>/figures/`` stays as it is). With other seeds or epochs than the profile's, all of them (runs too) go to
    the scratch folder ``<out>/scratch/<profile>-<parameters>/`` instead (pipeline.runs_root). ``notebooks``: a
    subset of NOTEBOOKS (default all, in order).
    ``log_output``: echo each notebook's output here as it runs; ``progress``: keep training progress
    bars in the executed copies (both off by default: follow a long run in ``<out>/runs/*/seed*/log.csv``).
    Raises ValueError for bad parameters, NotebookError (one line) when a notebook fails, and
    ray_training.RayMissingError for the Ray executor without Ray installed.
    """
    out = Path(out).expanduser().resolve()  # relative to the caller's directory, not notebooks/
    data_abs = None if data_path is None else str(Path(data_path).expanduser().resolve())
    validate_parameters(profile, seeds, epochs, out, retrain=retrain, data_path=data_abs)
    own = get_profile(profile).notebooks
    selected = list(notebooks if notebooks is not None else NOTEBOOKS if own is None else own)
    unknown = [n for n in selected if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebooks {unknown}: choose from {', '.join(NOTEBOOKS)}")
    _check_kernel(kernel_name)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}: choose from {', '.join(EXECUTORS)}")
    if executor == "ray":
        from gmvae.reproduction.ray_training import RayExecutor, import_ray

        import_ray()  # missing: one line that says how to install it, before anything runs
    # Paths inside the repository are passed relative to notebooks/, so the executed copies read the same
    # on every machine.
    parameters = dict(profile=profile, seeds=None if seeds is None else list(seeds), epochs=epochs, retrain=retrain,
                      results_dir=notebook_path(out), data_path=None if data_abs is None else notebook_path(data_abs))
    executed = []
    total = time.perf_counter()
    runs_at = runs_root(profile, out, seeds=seeds, epochs=epochs)  # out, or the scratch folder with copies
    if runs_at != out:
        print(f"reproduce: {output_note(out, profile, seeds, epochs)}", flush=True)
    print(f"reproduce: profile {profile!r} into {display_path(out)}; each run's log is "
          f"{display_path(runs_at / 'runs')}/<model>/seed<k>/log.csv (one row per epoch)", flush=True)
    todo = pending_runs(profile, runs_at, seeds=seeds, epochs=epochs, retrain=retrain)
    print(_training_summary(profile, seeds, epochs, len(todo)), flush=True)
    jobs = min(jobs or default_jobs(), max(len(todo), 1))
    with ReproductionProgress(profile, runs_at, seeds, epochs, jobs=jobs) as line:
        if todo and executor == "ray":
            with RayExecutor(address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run) as cluster:
                line.jobs = cluster.parallel_runs
                line.write(f"reproduce: training {len(todo)} run(s) on a {cluster.describe()}")
                cluster.train_runs(todo, runs_at, data_path=data_abs, retrain=retrain, say=line.write)
        elif todo:
            line.write(f"reproduce: training {len(todo)} run(s), {jobs} at a time")
            train_runs(todo, jobs=jobs, data_path=data_abs, retrain=retrain, say=line.write)
        if todo:
            parameters["retrain"] = False  # retrained just now: the notebooks only draw
        for i, name in enumerate(selected, 1):
            line.write(f"[{i}/{len(selected)}] {name} (profile {profile}) ...")
            started = time.perf_counter()
            executed.append(run_notebook(name, out, parameters, kernel_name=kernel_name, log_output=log_output,
                                         progress=progress))
            line.write(f"[{i}/{len(selected)}] {name} done in {time.perf_counter() - started:.1f} s "
                       f"-> {display_path(executed[-1])}")
    if selected:
        print(f"reproduce: {len(selected)} notebooks in {time.perf_counter() - total:.1f} s; "
              f"figures, tables and executed notebooks in {display_path(output_dir(out, profile, seeds, epochs))}")
    else:
        print(f"reproduce: trained in {time.perf_counter() - total:.1f} s; no notebooks run")
    return executed


def strip_notebooks(paths=None) -> list[Path]:
    """Remove outputs, execution counts and execution metadata from source notebooks (default: every
    notebook in notebooks/), keeping cell tags such as ``parameters``. Returns the files it changed."""
    import nbformat

    changed = []
    for path in (sorted(NOTEBOOK_DIR.glob("*.ipynb")) if paths is None else [Path(p) for p in paths]):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
            for key in ("execution", "papermill", "collapsed", "scrolled"):
                cell.metadata.pop(key, None)
        nb.metadata.pop("papermill", None)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed
