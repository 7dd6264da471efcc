"""A model of your own, end to end, as docs/your_own_model.md shows it: the module its first python block holds,
registered through GMVAE_MODELS, trained by its bash blocks on the smoke profile and drawn beside the post's runs
by `figures`; and the hook's pieces (register_model, load_model_modules, the command line, the comparison figure)
on their own."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gmvae import cli
from gmvae.config import MODELS, MODELS_ENV, TrainConfig
from gmvae.reporting import figures, plots
from made_up_logs import run_log

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "your_own_model.md"


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), re.S | re.M)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_the_documented_path_trains_the_model_and_draws_it_beside_the_posts(tmp_path):
    """The doc's module saved as $MINE/my_models.py and its bash blocks run as they are, from the repository's root,
    with `python` this interpreter: the run trains, and figures puts it in the run table and the comparison figure
    beside the committed runs of the post's models."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_models.py").write_text(doc_blocks("python")[0])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "MINE": str(mine), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop(MODELS_ENV, None)
    script = "set -euo pipefail\n" + "\n".join(doc_blocks("bash"))
    assert "python -m gmvae train" in script and "python -m gmvae figures" in script
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    record = json.loads((mine / "runs" / "gmvae_unit_var" / "seed0" / "run.json").read_text())
    assert record["config"]["model"] == "gmvae_unit_var"
    assert record["status"]["completed_epochs"] == 2 and record["status"].get("nan_epoch") is None
    table = (mine / "run_table.md").read_text()
    assert "| gmvae_unit_var | 0 | 2 (last) |" in table
    assert "| GMVAE | 5 | 200 (last) |" in table and "| M2 | 3 | 200 (last) |" in table
    assert (mine / "figures" / figures.OTHER_RUNS_FIGURE).is_file()
    assert f"figures/{figures.OTHER_RUNS_FIGURE}" in done.stdout

    df, _, _ = figures.load_logs(mine)
    labels = legend_texts(figures.draw_other_runs(df))
    assert "gmvae_unit_var (ours): 1 run" in labels
    assert {f"{name} (ours): {n} runs, mean and 68 % CI" for name, n in (("M2", 4), ("modified M2", 3), ("GMVAE", 6))
            } <= set(labels)


def _logs(**other_runs) -> pd.DataFrame:
    """The post's three models to epoch 6 and ``other_runs`` (run name -> (seeds, epochs))."""
    frames = [run_log(name, seed, epochs=6, accuracy=0.1 * (i + 1), loss=100 + i)
              for i, name in enumerate(("m2", "modified_m2", "gmvae")) for seed in (0, 1)]
    frames += [run_log(name, seed, epochs=epochs, accuracy=0.7) for name, (seeds, epochs) in other_runs.items()
               for seed in seeds]
    return pd.concat(frames, ignore_index=True)


def test_runs_no_figure_draws_are_drawn_over_the_posts_models_to_their_last_epoch():
    fig = figures.draw_other_runs(_logs(mine=((0, 1), 3), yours=((0,), 2)))
    labels = legend_texts(fig)
    two = "(ours): 2 runs, mean and 68 % CI"
    assert {f"mine {two}", "yours (ours): 1 run", f"M2 {two}", f"modified M2 {two}", f"GMVAE {two}"} <= set(labels)
    lines = {line.get_label(): line for line in fig.axes[2].lines}
    assert lines[f"mine {two}"].get_color() == plots.OTHER_COLORS[0]
    assert lines["yours (ours): 1 run"].get_color() == plots.OTHER_COLORS[1]
    assert max(lines[f"GMVAE {two}"].get_xdata()) == 3  # cut at the last epoch the other runs reached
    assert not set(plots.OTHER_COLORS) & {*plots.COLORS.values(), plots.NAN_COLOR}


def test_no_figure_without_runs_of_other_names():
    assert figures.draw_other_runs(_logs()) is None
    assert figures.draw_other_runs(_logs(m2_eta0=((0,), 3))) is None  # drawn by the open-question figure
    assert figures.other_run_names(_logs(mine=((0,), 3), m2_iaf=((0,), 3))) == ["mine"]


def test_register_model_makes_a_name_a_model():
    from gmvae.models import GMVAE, MODEL_CLASSES, build_model, register_model

    class Mine(GMVAE):
        pass

    try:
        register_model("gmvae_test_only", Mine)
        register_model("gmvae_test_only", Mine)  # a module imported twice
        assert MODELS.count("gmvae_test_only") == 1
        config = TrainConfig(model="gmvae_test_only", hidden=8, z_dim=2)
        assert config.run_name == "gmvae_test_only"
        assert type(build_model(config)) is Mine
    finally:
        MODEL_CLASSES.pop("gmvae_test_only", None)
        if "gmvae_test_only" in MODELS:
            MODELS.remove("gmvae_test_only")
    with pytest.raises(ValueError, match="model must be one of"):
        TrainConfig(model="gmvae_test_only")


@pytest.mark.parametrize("name, model_class, error, message", [
    ("gmvae", "GMVAE", ValueError, "built-in model or a profile's run name"),
    ("m2_eta0", "GMVAE", ValueError, "built-in model or a profile's run name"),
    ("My-Model", "GMVAE", ValueError, "lower-case letters, digits and underscores"),
    ("mine", "TrainConfig", TypeError, "subclass of gmvae.models.ClusteringVAE"),
])
def test_register_model_refuses(name, model_class, error, message):
    from gmvae import models

    with pytest.raises(error, match=re.escape(message)):
        models.register_model(name, getattr(models, model_class))
    assert name not in MODELS or name in models.BUILT_IN_MODELS


def test_a_module_that_is_missing_or_fails_is_named(tmp_path, monkeypatch):
    from gmvae.models import load_model_modules

    with pytest.raises(ValueError, match=f"{MODELS_ENV}: .*nope.py: FileNotFoundError"):
        load_model_modules(str(tmp_path / "nope.py"))
    (tmp_path / "broken.py").write_text("raise RuntimeError('no such layer')\n")
    with pytest.raises(ValueError, match="broken.py: RuntimeError: no such layer"):
        load_model_modules(str(tmp_path / "broken.py"))
    monkeypatch.setenv(MODELS_ENV, "")
    assert load_model_modules() == []


def test_the_command_line_names_a_missing_module_in_one_line_and_figures_needs_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "nope.py"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--model", "gmvae_unit_var", "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("python -m gmvae train: error: GMVAE_MODELS: ")
    cli._load_own_models(cli.build_parser(), ["figures", "--results", str(tmp_path)])  # not imported: no error
