"""precision="auto": what it picks on which machine, what run.json records, and that a run never changes precision;
TensorFlow's start-up chatter kept off the terminal; the agreement table of two precisions."""

import dataclasses
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from gmvae import machine, runs
from gmvae.config import TrainConfig
from gmvae.reporting import agreement
from gmvae.train import RunMismatchError, resolve_precision, train

from test_train import TINY, synthetic_mnist

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni {extra}

processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni {extra}
"""


@pytest.mark.parametrize("extra, gpu_native, expected", [
    ("avx512_bf16", None, "mixed_bfloat16"),
    ("amx_tile amx_bf16", None, "mixed_bfloat16"),
    ("", None, "float32"),                   # AVX-512 without BF16: converting costs more than it saves
    ("avx512_bf16", False, "float32"),       # the GPU decides where there is one
    ("", True, "mixed_bfloat16"),
])
def test_auto_picks_bfloat16_only_where_it_is_native(tmp_path, extra, gpu_native, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    name, flags = machine.cpu_name_and_flags(cpuinfo)
    assert name == "AMD EPYC 9R14 (family 25, model 17)"
    precision, reason = machine.precision_for(flags, gpu_native)
    assert precision == expected
    if gpu_native is None and expected == "mixed_bfloat16":
        assert extra.split()[-1] in reason


def test_without_cpuinfo_there_are_no_flags_and_auto_is_float32(tmp_path):
    name, flags = machine.cpu_name_and_flags(tmp_path / "absent")
    assert flags == set() and name
    assert machine.precision_for(flags, None)[0] == "float32"


def test_gmvae_precision_overrides_the_machines_choice_and_must_be_a_precision(monkeypatch, machine_auto_precision):
    import tensorflow as tf

    for chosen in ("float32", "mixed_bfloat16"):
        monkeypatch.setenv("GMVAE_PRECISION", chosen)
        assert machine_auto_precision(tf) == (chosen, f"GMVAE_PRECISION={chosen}")
    monkeypatch.setenv("GMVAE_PRECISION", "bf16")
    with pytest.raises(ValueError, match="GMVAE_PRECISION='bf16': use one of float32, mixed_bfloat16"):
        machine_auto_precision(tf)
    monkeypatch.delenv("GMVAE_PRECISION")
    assert machine_auto_precision(tf) == machine.precision_for(machine.cpu_name_and_flags()[1], None)


def test_auto_takes_the_machines_choice_for_a_new_run_and_the_runs_own_for_a_begun_one(monkeypatch):
    monkeypatch.setattr(machine, "auto_precision", lambda tf: ("mixed_bfloat16", "the processor has avx512_bf16"))
    auto = TINY.replace(precision="auto")
    assert resolve_precision(auto, None)[0].precision == "mixed_bfloat16"
    assert resolve_precision(auto, {"config": {"precision": "float32"}})[0].precision == "float32"
    assert resolve_precision(auto.replace(precision="float32"), None)[0].precision == "float32"


@pytest.mark.slow  # bfloat16 trains emulated (11 s) where the processor has none
def test_a_bfloat16_run_resumes_in_bfloat16_under_auto_and_refuses_float32(tmp_path, capsys):
    data = synthetic_mnist()
    begun = train(TINY.replace(precision="mixed_bfloat16", epochs=2), tmp_path, data=data, progress=False)
    log = train(TINY.replace(precision="auto"), tmp_path, data=data, progress=False)  # tests: auto = float32
    record = runs.read_record(tmp_path)
    assert record["config"]["precision"] == "mixed_bfloat16"
    assert "precision mixed_bfloat16 (auto: the precision this run began in)" in capsys.readouterr().out
    uninterrupted = train(TINY.replace(precision="mixed_bfloat16"), tmp_path / "straight", data=data, progress=False)
    pd.testing.assert_frame_equal(log.drop(columns="seconds"), uninterrupted.drop(columns="seconds"))
    assert len(begun) == 2
    with pytest.raises(RunMismatchError, match="precision='mixed_bfloat16' \\(wanted 'float32'\\)"):
        train(TINY.replace(precision="float32", epochs=4), tmp_path, data=data, progress=False)


def test_run_json_records_the_concrete_precision_and_the_processor(tmp_path):
    train(TINY.replace(precision="auto", epochs=1), tmp_path, data=synthetic_mnist(), progress=False)
    record = runs.read_record(tmp_path)
    assert record["config"]["precision"] == "float32"  # what auto means in the tests (conftest)
    assert record["provenance"]["machine"]["processor"] == machine.cpu_name_and_flags()[0]
    assert set(record["provenance"]["machine"]["flags"]) <= set(machine.REPORTED_FLAGS)


def test_auto_matches_a_stored_run_of_either_precision():
    for stored in ("float32", "mixed_bfloat16"):
        assert TrainConfig(precision="auto").differences(dataclasses.asdict(TrainConfig(precision=stored))) == []
    assert TrainConfig(precision="float32").differences(dataclasses.asdict(TrainConfig(precision="mixed_bfloat16"))) \
        == ["precision='mixed_bfloat16' (wanted 'float32')"]


@pytest.mark.slow  # a TensorFlow import in a subprocess, twice
@pytest.mark.parametrize("show", [False, True])
def test_importing_the_training_code_prints_nothing_unless_asked(show):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GMVAE_TF_LOGS")}
    if show:
        env["GMVAE_TF_LOGS"] = "1"
    result = subprocess.run([sys.executable, "-c", "import gmvae.train, gmvae.speed.bench; print('imported')"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout == "imported\n"
    # TensorFlow speaks on import wherever it runs (at least its oneDNN notice or the CUDA probe)
    assert (result.stderr != "") == show, result.stderr[-2000:]


def _log(run_name, seed, losses, accuracies, entropies):
    n = len(losses)
    return pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": range(1, n + 1), "test_loss": losses,
                         "test_accuracy": accuracies, "test_entropy": entropies})


def test_agreement_measures_each_run_against_the_gmvae_seed_gap():
    reference = pd.concat([
        _log("gmvae", 0, [100.0, 98.0, 97.0], [0.5, 0.6, 0.7], [1.0, 0.5, 0.3]),
        _log("gmvae", 1, [101.0, 98.5, 96.0], [0.6, 0.6, 0.9], [1.2, 0.4, 0.3]),
        _log("m2", 0, [99.0, 97.0, 95.0], [0.2, 0.2, 0.1], [2.3, 2.3, 2.3]),
    ])
    other = pd.concat([
        _log("m2", 0, [99.5, 97.0, 94.0], [0.2, 0.3, 0.1], [2.3, 2.3, 2.3]),
        _log("gmvae", 0, [100.0, 99.0, 97.0], [0.5, 0.6, 0.7], [1.0, 0.5, 0.3]),
    ])
    table = agreement.agreement_table(reference, other, epochs=(2,))
    assert list(zip(table["run_name"], table["metric"]))[:3] == [("m2", "accuracy"), ("m2", "accuracy"), ("m2", "H(y|x)")]
    m2_loss = table[(table["run_name"] == "m2") & (table["metric"] == "loss")].set_index("epoch")
    assert m2_loss.loc["2", ["difference", "seed_gap", "within"]].tolist() == [0.0, 0.5, True]
    mean = m2_loss.loc["mean, all epochs (1-3)"]
    assert mean["difference"] == pytest.approx((0.5 + 0 + 1) / 3) and mean["seed_gap"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert mean["within"]
    gmvae_loss = table[(table["run_name"] == "gmvae") & (table["metric"] == "loss")].set_index("epoch")
    assert gmvae_loss.loc["2", "difference"] == 1.0 and not gmvae_loss.loc["2", "within"]
    m2_accuracy = table[(table["run_name"] == "m2") & (table["metric"] == "accuracy")].set_index("epoch")
    assert m2_accuracy.loc["2", "difference"] == pytest.approx(0.1)
    assert not m2_accuracy.loc["2", "within"]  # the seeds agree at epoch 2, so any difference is outside
    assert agreement.agreement_table(reference[reference["seed"] == 0], other).empty  # no second seed, no yardstick
    published = agreement.agreement_markdown_table(table[table["metric"] == "loss"], "float32", "mixed_bfloat16")
    mean_epochs = "mean, all epochs (1-3)"
    assert published.to_dict("records") == [  # the sums above, rounded to the logs' two decimals
        {"model": "M2", "seed": 0, "metric": "loss", "epoch": "2", "float32": "97.00", "mixed_bfloat16": "97.00",
         "difference": "0.00", "GMVAE seed 0 vs 1": "0.50", "within": "yes"},
        {"model": "M2", "seed": 0, "metric": "loss", "epoch": mean_epochs, "float32": "97.00",
         "mixed_bfloat16": "96.83", "difference": "0.50", "GMVAE seed 0 vs 1": "0.83", "within": "yes"},
        {"model": "GMVAE", "seed": 0, "metric": "loss", "epoch": "2", "float32": "98.00", "mixed_bfloat16": "99.00",
         "difference": "1.00", "GMVAE seed 0 vs 1": "0.50", "within": "**no**"},
        {"model": "GMVAE", "seed": 0, "metric": "loss", "epoch": mean_epochs, "float32": "98.33",
         "mixed_bfloat16": "98.67", "difference": "0.33", "GMVAE seed 0 vs 1": "0.83", "within": "yes"},
    ]


def test_agreement_orders_runs_by_model_then_seed_and_counts_a_tie_as_within():
    curves = {("gmvae", 0): [100.0, 98.0], ("gmvae", 1): [101.0, 99.0], ("m2", 1): [97.0, 96.0], ("m2", 0): [95.0, 94.0]}
    reference = pd.concat([_log(run, seed, losses, [0.5, 0.5], [1.0, 1.0]) for (run, seed), losses in curves.items()])
    other = pd.concat([_log(run, seed, [loss + 1 for loss in losses], [0.5, 0.5], [1.0, 1.0])
                       for (run, seed), losses in curves.items()])
    loss = agreement.agreement_table(reference, other, epochs=(2,)).query("metric == 'loss'")
    assert list(zip(loss["run_name"], loss["seed"]))[::2] == [("m2", 0), ("m2", 1), ("gmvae", 0), ("gmvae", 1)]
    # every difference is 1, exactly the GMVAE seed gap at each epoch and in the mean: a tie is within
    assert loss["difference"].tolist() == [1.0] * 8 and loss["seed_gap"].tolist() == [1.0] * 8
    assert loss["within"].all()


def test_a_run_within_the_seed_gap_at_an_epoch_can_lie_outside_it_on_the_mean():
    """GMVAE seed gap 1, 0.5, 1 (mean 0.83); the other run differs by 2, 0, 2 (mean 1.33): within at epoch 2, not
    over all epochs. A table without a common run, or without two GMVAE seeds, is empty but has its columns."""
    reference = pd.concat([_log("gmvae", 0, [100.0, 98.0, 97.0], [0.5] * 3, [1.0] * 3),
                           _log("gmvae", 1, [101.0, 98.5, 96.0], [0.5] * 3, [1.0] * 3)])
    other = _log("gmvae", 0, [102.0, 98.0, 99.0], [0.5] * 3, [1.0] * 3)
    loss = agreement.agreement_table(reference, other, epochs=(2,)).query("metric == 'loss'")
    published = agreement.agreement_markdown_table(loss, "float32", "mixed_bfloat16")
    assert published[["epoch", "difference", "GMVAE seed 0 vs 1", "within"]].values.tolist() == [
        ["2", "0.00", "0.50", "yes"], ["mean, all epochs (1-3)", "1.33", "0.83", "**no**"]]
    for empty in (agreement.agreement_table(reference, _log("m2", 5, [90.0] * 3, [0.5] * 3, [1.0] * 3)),
                  agreement.agreement_table(reference[reference["seed"] == 0], other)):
        assert empty.empty and list(empty.columns) == agreement.COLUMNS

@pytest.mark.slow  # times both precisions: 9 s on an AVX2 EPYC
def test_the_bench_prints_one_line_per_precision(capsys):
    from gmvae.speed import bench

    argv = ["--models", "m2", "--k", "3", "--batch-size", "4", "--z-dim", "2", "--hidden", "8", "--steps", "2",
            "--repeats", "1", "--matmul-size", "64", "--eval-size", "20", "--synthetic",
            "--precision", "float32", "mixed_bfloat16"]
    assert bench.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["precision"], line["matmul_dtype"]) for line in lines] == [("float32", "float32"),
                                                                              ("mixed_bfloat16", "bfloat16")]
    assert all(line["processor"] == machine.cpu_name_and_flags()[0] for line in lines)
