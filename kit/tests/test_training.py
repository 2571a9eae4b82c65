"""TrainingRun: staging that never outlives the run, the manifest's core fields, parity errors,
progress, the report frame and the trainers' common flags."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from kit.artifacts import ArtifactError, ArtifactStore
from kit.settings import REPO_ROOT
from kit.training import (
    ParityError,
    Progress,
    TrainingRun,
    add_training_args,
    check_parity,
    markdown_table,
)


def record(run: TrainingRun, **fields) -> dict:
    core = {"data": "toy rows", "data_sha256": "ab" * 32, "parameters": {"depth": 3},
            "metrics": {"auc": 0.9}, "input_schema": {"type": "object"}}
    return run.record(**{**core, **fields})


def test_a_saved_run_leaves_one_version_and_no_staging(tmp_path):
    with TrainingRun("toy", tmp_path, progress=False) as run:
        staging = run.staging
        assert staging.parent == tmp_path
        (staging / "weights.txt").write_text("0.5")
        record(run)
        artifact = run.save()
    assert not staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert artifact == ArtifactStore(tmp_path, "toy").load()
    assert artifact.file("weights.txt").read_text() == "0.5"
    assert artifact.path.stat().st_mode & 0o055 == 0o055, "the version is readable by others"


@pytest.mark.parametrize("fail_at", ["fit", "after_record", "save"])
def test_a_failed_run_leaves_no_staging_and_no_version(tmp_path, monkeypatch, fail_at):
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    if fail_at == "save":
        monkeypatch.setattr(ArtifactStore, "save", broken_save)
    with pytest.raises((RuntimeError, OSError)), TrainingRun("toy", tmp_path,
                                                             progress=False) as run:
        staging = run.staging
        (staging / "weights.txt").write_text("half")
        if fail_at == "fit":
            raise RuntimeError("the fit diverged")
        record(run)
        if fail_at == "after_record":
            raise RuntimeError("the report failed")
        run.save()
    assert not staging.exists()
    assert list(tmp_path.iterdir()) == []
    assert ArtifactStore(tmp_path, "toy").versions() == []


def test_staging_exists_only_inside_the_run(tmp_path):
    run = TrainingRun("toy", tmp_path, progress=False)
    with pytest.raises(RuntimeError, match="with-block"):
        _ = run.staging
    with run:
        record(run)
        run.save()
    with pytest.raises(RuntimeError, match="with-block"):
        _ = run.staging


def test_save_needs_a_recorded_manifest(tmp_path):
    with TrainingRun("toy", tmp_path, progress=False) as run, pytest.raises(
            RuntimeError, match="record"):
        run.save()


def test_the_manifest_holds_the_core_fields_and_the_services_own(tmp_path):
    with TrainingRun("toy", tmp_path, libraries=("numpy", "not-installed-anywhere"),
                     progress=False) as run:
        record(run, threshold={"score": 0.7})
        manifest = run.save().manifest
    assert manifest["name"] == "toy" and re.fullmatch(r"\d{8}-\d{6}", manifest["version"])
    assert manifest["data"] == "toy rows" and manifest["data_sha256"] == "ab" * 32
    assert manifest["parameters"] == {"depth": 3} and manifest["metrics"] == {"auc": 0.9}
    assert manifest["input_schema"] == {"type": "object"}
    assert manifest["threshold"] == {"score": 0.7}
    assert set(manifest["libraries"]) == {"python", "numpy"}
    assert manifest["train_seconds"] >= 0 and "created_at" in manifest
    assert manifest["files"] == {}


@pytest.mark.parametrize("field", ["created_at", "version", "name", "files"])
def test_only_the_store_writes_name_version_created_at_and_files(tmp_path, field):
    with TrainingRun("toy", tmp_path, progress=False) as run:
        record(run, **{field: "mine"})
        with pytest.raises(ArtifactError, match=field):
            run.save()
    assert list(tmp_path.iterdir()) == []


def test_parity_error_names_the_difference_and_the_tolerance():
    with pytest.raises(ParityError) as caught:
        check_parity("ONNX", np.array([0.1, 0.5], dtype=np.float32), [0.1, 0.5003], 1e-5)
    message = str(caught.value)
    assert message.startswith("ONNX parity failed")
    assert "3.00e-04" in message and "1e-05" in message
    assert isinstance(caught.value, ArtifactError)
    with pytest.raises(ParityError, match="nan"):
        check_parity("ONNX", [np.nan], [0.0], 1e-5)
    assert check_parity("ONNX", [0.1, 0.2], [0.1, 0.2000001], 1e-5) == pytest.approx(1e-7)


def test_a_parity_failure_inside_the_run_saves_nothing(tmp_path):
    with pytest.raises(ParityError), TrainingRun("toy", tmp_path, progress=False) as run:
        (run.staging / "model.onnx").write_bytes(b"exported")
        check_parity("ONNX", [1.0], [0.0], 1e-4)
    assert list(tmp_path.iterdir()) == []


def test_progress_prints_timestamped_lines_and_can_be_silent(capsys):
    Progress().say("fitting")
    TrainingRun("toy", "unused").say("saved")
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[ +\d+\.\ds\] fitting", out[0])
    assert re.fullmatch(r"\[ +\d+\.\ds\] toy: saved", out[1])
    quiet = Progress(enabled=False)
    quiet.say("nothing")
    assert list(quiet.bar(range(3), "loop")) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_the_report_frames_the_services_sections(tmp_path):
    with TrainingRun("toy", tmp_path, progress=False) as run:
        record(run, parameters={"depth": 3, "forecast": {"scale": 1.5}})
        run.write_report("toy model", ["## Own section", "", *markdown_table(
            ("metric", "value"), [("auc", 0.91234), ("support", 12), ("ratio", None)])])
        artifact = run.save()
    text = artifact.file("report.md").read_text()
    assert text.startswith("# toy model\n\nData: toy rows (sha256 `abababababababab…`)")
    assert "| metric | value |\n| --- | --- |\n| auc | 0.9123 |\n| support | 12 |" in text
    assert "| ratio | — |" in text
    assert text.index("## Own section") < text.index("## Parameters")
    assert "- depth: 3\n- forecast.scale: 1.5\n" in text
    assert "report.md" in artifact.manifest["files"]


def test_common_flags_with_a_services_own_after_them():
    parser = add_training_args(argparse.ArgumentParser(), data="shipped", seed=13)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args([])
    assert args.model_dir == REPO_ROOT / "models"
    assert (args.data, args.quick, args.seed, args.no_progress, args.epochs) == (
        "shipped", False, 13, False, 12)
    args = parser.parse_args(["--model-dir", "/tmp/m", "--data", "x.csv", "--quick", "--seed",
                              "3", "--no-progress", "--epochs", "2"])
    assert str(args.model_dir) == "/tmp/m" and args.data == "x.csv"
    assert (args.quick, args.seed, args.no_progress, args.epochs) == (True, 3, True, 2)


def test_data_choices_are_enforced(capsys):
    parser = add_training_args(argparse.ArgumentParser(), data_choices=("generated",))
    assert parser.parse_args([]).data == "generated"
    with pytest.raises(SystemExit):
        parser.parse_args(["--data", "other"])
    assert "invalid choice" in capsys.readouterr().err
