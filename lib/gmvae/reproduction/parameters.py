"""A notebook's (or the command line's) parameters: paths, profiles, seeds and epochs, checked.

Notebooks run in notebooks/, the command line anywhere: relative paths resolve against notebooks/ in a
source checkout so that both find the same results/ folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from gmvae.reproduction.profiles import PROFILES, get_profile

# The project's folders, for a source checkout (pip install -e .): lib/gmvae/reproduction/parameters.py ->
# repo root.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"

EXECUTORS = ("local", "ray")  # where `reproduce` trains the runs: this machine, or a Ray cluster


def resolve_path(path) -> Path:
    """A notebook parameter path: absolute as given; relative to the notebooks/ folder of the source
    checkout (where the notebooks' default ``results_dir = "../results"`` points at the repo's results/),
    whatever the current directory; relative to the current directory outside a source checkout."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    base = NOTEBOOK_DIR if NOTEBOOK_DIR.is_dir() else Path.cwd()
    return (base / p).resolve()


def display_path(path) -> str:
    """``path`` as printed in notebooks and logs: relative to the repository when inside it, so that the
    executed notebooks read the same on every machine."""
    path = Path(path).resolve()
    try:
        return path.relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def notebook_path(path) -> str:
    """A path as a notebook parameter: relative to notebooks/ when inside the repository (the inverse of
    :func:`resolve_path`), else absolute."""
    path = Path(path).resolve()
    try:
        path.relative_to(PROJECT_ROOT.resolve())
    except ValueError:
        return str(path)
    return os.path.relpath(path, NOTEBOOK_DIR)


def profile_output_dir(results_dir, profile: str) -> Path:
    """Where the notebooks run with ``profile`` write their figures, tables and executed copies:
    ``results_dir/<profile>/``. The runs they read are shared by every profile in ``results_dir/runs/`` (the cpu
    profile reads the first 50 epochs of the post profile's), and ``results_dir/figures/`` with the tables beside
    it is what ``make figures`` draws from every log there, whatever the profile: a reproduction at a shorter
    horizon never overwrites it. Notebooks run with other seeds or epochs than the profile's write to
    :func:`output_dir` instead."""
    return resolve_path(results_dir) / profile


SCRATCH = "scratch"  # under results_dir: what notebooks run with other parameters than their profile's write (git-ignored)


def seed_list(seeds):
    """seeds as a notebook may give them (None, an integer or a list) as None or a list."""
    if seeds is None:
        return None
    return [seeds] if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool) else list(seeds)


def is_profile_own(profile: str, seeds=None, epochs=None) -> bool:
    """Whether ``seeds`` and ``epochs`` leave every run of the profile as the profile defines it: then the
    notebooks' figures and tables are the profile's own (results_dir/<profile>/); else they belong in a scratch
    folder (:func:`output_dir`). Decided over every run of the profile, not one notebook's, so that all notebooks
    run with the same parameters share one folder. Seeds in another order count as other parameters."""
    prof = get_profile(profile)
    seeds = seed_list(seeds)
    return all(prof.configs(run_name, seeds=seeds, epochs=epochs) == prof.configs(run_name) for run_name in prof.seeds)


def parameters_label(profile: str, seeds=None, epochs=None) -> str:
    """What makes the parameters other than the profile's, as a folder name: ``seeds1_2-epochs20`` (the seeds
    part ``seeds<n>x<hash>`` for more than 6 seeds); empty for the profile's own. Seeds and epochs that are each
    the profile's make the whole the profile's, so one of the parts names every other set of parameters."""
    seeds = seed_list(seeds)
    parts = []
    if seeds is not None and not is_profile_own(profile, seeds):
        listed = "_".join(str(int(s)) for s in seeds)
        parts.append(f"seeds{listed}" if len(seeds) <= 6 else
                     f"seeds{len(seeds)}x{hashlib.sha1(listed.encode()).hexdigest()[:8]}")
    if epochs is not None and not is_profile_own(profile, epochs=epochs):
        parts.append(f"epochs{int(epochs)}")
    return "-".join(parts)


def scratch_dir(results_dir, profile: str, seeds=None, epochs=None) -> Path:
    """Where notebooks run with parameters that are not the profile's own write everything:
    ``results_dir/scratch/<profile>-<parameters_label>/`` (figures/, tables, executed/, and runs/ with the runs
    they train; git-ignored)."""
    return resolve_path(results_dir) / SCRATCH / f"{profile}-{parameters_label(profile, seeds, epochs)}"


def output_dir(results_dir, profile: str, seeds=None, epochs=None) -> Path:
    """Where a notebook writes its figures, tables and executed copy: ``results_dir/<profile>/``
    (:func:`profile_output_dir`) with the profile's own seeds and epochs, else :func:`scratch_dir`, so that a
    reader's changed parameters never overwrite the profile's committed results."""
    if is_profile_own(profile, seeds, epochs):
        return profile_output_dir(results_dir, profile)
    return scratch_dir(results_dir, profile, seeds, epochs)


def output_note(results_dir, profile: str, seeds=None, epochs=None) -> str:
    """The one line a notebook prints about where its outputs go."""
    out = display_path(output_dir(results_dir, profile, seeds, epochs))
    if is_profile_own(profile, seeds, epochs):
        return f"figures and tables go to {out}/ (profile {profile!r}, its own seeds and epochs)"
    given = ", ".join(f"{name} {value}" for name, value in (("seeds", seed_list(seeds)), ("epochs", epochs))
                      if value is not None)
    return (f"{given}: not profile {profile}'s own, so figures, tables and the runs they draw go to {out}/ "
            f"(scratch, git-ignored), not to {display_path(profile_output_dir(results_dir, profile))}/ or "
            f"{display_path(resolve_path(results_dir) / 'runs')}/")


def validate_parameters(profile, seeds=None, epochs=None, results_dir="../results", *, run_names=(),
                        retrain=False, data_path=None) -> Path:
    """Check a notebook's (or the command line's) parameters; return the resolved results folder.

    Raises ValueError naming what is allowed: a known profile; run names that profile has; seeds None
    or a list of integers >= 0; epochs None or an integer >= 0; retrain True/False; data_path None or
    an existing file; a results folder that can be created and written (checked by writing a file).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: allowed profiles are {', '.join(repr(p) for p in PROFILES)}")
    prof = PROFILES[profile]
    for run_name in run_names:
        if run_name not in _all_run_names():
            raise ValueError(f"unknown model {run_name!r}: allowed models are {', '.join(_all_run_names())}")
    if seeds is not None:
        if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
            seeds = [seeds]
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise ValueError(f"seeds must be None (the profile's seeds) or a list of integers >= 0, not {seeds!r}")
        seeds = list(seeds)
        if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ValueError(f"seeds must be None (the profile's seeds) or a non-empty list of integers >= 0, not {seeds!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0):
        raise ValueError(f"epochs must be None (the profile's: {prof.base.epochs}) or an integer >= 0, not {epochs!r}")
    if not isinstance(retrain, bool):
        raise ValueError(f"retrain must be True or False, not {retrain!r}")
    if data_path is not None and not resolve_path(data_path).is_file():
        raise ValueError(f"data_path must be None (use GMVAE_MNIST, the cache or the download) or an existing "
                         f"mnist.npz; {resolve_path(data_path)} is not a file")
    if results_dir is None or str(results_dir) == "":
        raise ValueError("results_dir must be a folder path (relative paths are relative to notebooks/)")
    out = resolve_path(results_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ValueError(f"results_dir {out} cannot be written ({e.strerror or e}); choose a writable folder") from None
    return out


def _all_run_names():
    """Every model variant a profile trains or defines (a variant may wait for its profile, as the clipped runs
    wait for their threshold)."""
    names = []
    for p in PROFILES.values():
        names += [n for n in [*p.seeds, *p.variants] if n not in names]
    return names


def profile_run_names(profile: str, run_names) -> list[str]:
    """The given run names that the profile trains (e.g. the modified-M2 decoder variants only in blog)."""
    prof = get_profile(profile)
    return [r for r in run_names if r in prof.seeds]


def profile_seeds(profile: str, run_name: str, seeds=None) -> list[int]:
    return list(seeds) if seeds is not None else list(get_profile(profile).seeds[run_name])


def profile_epochs(profile: str, epochs=None, run_name: str | None = None) -> int:
    """``epochs`` if given, else the profile's epochs for ``run_name`` (its longest run's without one)."""
    if epochs is not None:
        return int(epochs)
    prof = get_profile(profile)
    if run_name is None:
        return max([prof.base.epochs, *prof.epochs.values()])
    return prof.epochs.get(run_name, prof.base.epochs)
