"""The original's logs and figures shipped with the package: loader, checksums, and what they say."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from gmvae.reporting import original


@pytest.fixture(scope="module")
def logs():
    return original.load_original_logs()


def rows_per_run(logs, run_name):
    return logs[logs["run_name"] == run_name].groupby("seed")["epoch"].size().to_dict()


def test_every_shipped_file_matches_sha256sums():
    hashes = original.expected_hashes()
    assert len(hashes) == 33  # 29 logs and the post's 4 figures
    assert [name for name in hashes if original.check_file(name)] == []
    assert (original.MATERIAL_DIR / "LICENSE").read_text().startswith("MIT License")


def test_row_counts_and_names_as_the_material_readme_lists_them(logs):
    assert rows_per_run(logs, "m2") == {0: 1000, 1: 1000, 2: 730, 3: 92}
    assert rows_per_run(logs, "modified_m2") == {0: 547, 1: 545, 2: 698}
    assert rows_per_run(logs, "modified_m2_identity") == {0: 1081}
    assert rows_per_run(logs, "modified_m2_relu_layer") == {0: 239}
    assert rows_per_run(logs, "gmvae") == {0: 1000, 1: 98, 2: 738, 3: 684, 4: 684, 5: 552, 6: 516}
    assert rows_per_run(logs, "gmvae_k16") == {0: 156, 1: 151}
    assert set(logs.loc[logs["run_name"] == "gmvae_k16", "k"]) == {16}
    assert set(logs.loc[logs["run_name"] == "gmvae", "k"]) == {10}
    unpublished = {"modified_cvar_m2_method=relu", "modified_deep_m2_method=relu",
                   "modified_novar_m2_method=layer", "modified_novar_m2_method=relu"}
    assert unpublished <= set(logs["run_name"])
    assert set(logs["source"]) == {"original"}


def test_first_nan_epochs_of_the_relu_modified_m2_logs(logs):
    g = logs[logs["run_name"] == "modified_m2"]
    assert g.groupby("seed")["nan_epoch"].first().to_dict() == {0: 228, 1: 227, 2: 255}
    # from the NaN epoch on nothing is a measurement: the logged 0.114 "accuracy" there is argmax of NaN
    diverged = g[g["epoch"] >= g["nan_epoch"]]
    assert len(diverged) == (547 - 227) + (545 - 226) + (698 - 254)
    assert diverged[["test_loss", "test_accuracy", "test_entropy", "train_loss"]].isna().all().all()
    assert g.loc[(g["seed"] == 1) & (g["epoch"] == 226), "test_loss"].notna().all()
    assert logs.loc[logs["run_name"] == "gmvae", "nan_epoch"].isna().all()


def test_values_read_as_logged(logs):
    best = logs[logs["run_name"] == "gmvae"].groupby("seed")["test_accuracy"].max()
    assert best.idxmax() == 5 and best.max() == pytest.approx(0.935)
    m2 = logs[(logs["run_name"] == "m2") & (logs["seed"] == 0)].set_index("epoch")
    assert m2.loc[1, ["train_entropy", "train_loss", "test_entropy", "test_loss", "test_accuracy"]].tolist() == \
        pytest.approx([2.29, 130.0, 2.29, 129.0, 0.289])


def test_an_altered_or_missing_file_is_named_and_left_out(tmp_path, capsys):
    material = tmp_path / "material"
    shutil.copytree(original.MATERIAL_DIR, material)
    altered = material / "logs" / "m2.log.1"
    altered.write_text(altered.read_text().replace("e+02", "e+03", 1))
    (material / "logs" / "gmvae.log.3").unlink()
    logs = original.load_original_logs(["m2", "gmvae"], material_dir=material)
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 2
    assert any("m2.log.1" in w and "differs" in w and "SHA256SUMS" in w for w in warnings)
    assert any("gmvae.log.3" in w and "missing" in w for w in warnings)
    assert sorted(logs.loc[logs["run_name"] == "m2", "seed"].unique()) == [0, 2, 3]
    assert 3 not in set(logs.loc[logs["run_name"] == "gmvae", "seed"])
    (material / "images" / "m2.png").write_bytes(b"not a png")
    assert original.post_figure("m2", material_dir=material) is None
    assert original.post_figure("gmvae", material_dir=material) == material / "images" / "gmvae.png"


def test_no_logs_at_all_gives_an_empty_frame_with_the_columns(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("")
    empty = original.load_original_logs(material_dir=tmp_path)
    assert empty.empty and {"run_name", "seed", "epoch", "test_loss", "source"} <= set(empty.columns)


@pytest.mark.parametrize("value, half", [(103.0, 0.5), (93.7, 0.05), (0.289, 0.0005), (2.3, 0.005),
                                         (0.0, 0.005), (9.996, 0.05), (3.37e-11, 5e-14)])
def test_half_unit_of_the_last_logged_digit(value, half):
    assert original.half_unit(value) == pytest.approx(half)
    assert np.isnan(original.half_unit(float("nan")))


def test_read_log_handles_the_fixed_width_format(tmp_path):
    path = tmp_path / "x.log.0"
    path.write_text("    tr_ent,   tr_loss,     t_ent,    t_loss,     t_acc,     epoch\n"
                    "  9.30e-01,  1.45e+02,  9.40e-01,  1.45e+02,  4.08e-01,         1\n"
                    "       nan,       nan,       nan,       nan,  1.14e-01,         2\n")
    log = original.read_log(path)
    assert list(log.columns) == ["train_entropy", "train_loss", "test_entropy", "test_loss", "test_accuracy", "epoch"]
    assert log["epoch"].tolist() == [1, 2]
    assert log.loc[0, "test_accuracy"] == pytest.approx(0.408)
    assert pd.isna(log.loc[1, "test_accuracy"])
