"""Each image's own environment (bench/model_venv.py): the rebuild rule, and the credit image's
lock alone in a fresh venv serving the same answers as the project venv, over real HTTP."""

import json
import subprocess
import sys

import pytest

from bench import model_venv, peer_venv
from kit.procs import post_json, start_service


def test_a_venv_is_current_only_when_whole_and_built_from_the_same_stamp(tmp_path):
    venv = tmp_path / "venv"
    assert not peer_venv.is_current(venv, "python", "sha256:a")
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    assert peer_venv.is_current(venv, "python", "")  # no stamp asked: any whole venv
    assert not peer_venv.is_current(venv, "python", "sha256:a")  # built before stamps
    (venv / peer_venv.STAMP).write_text("sha256:a")
    assert peer_venv.is_current(venv, "python", "sha256:a")
    assert not peer_venv.is_current(venv, "python", "sha256:b")  # the lock changed


def test_every_image_of_the_fleet_has_its_lock():
    for image in ("credit", "intent", "ner", "spending", "anomaly", "gateway"):
        assert model_venv.lock_file(image).is_file(), image


def test_an_image_without_a_lock_is_unavailable_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(model_venv, "IMAGE_LOCKS", tmp_path)
    with pytest.raises(peer_venv.PeerUnavailable, match="make lock"):
        model_venv.ensure("credit")


def test_the_credit_image_lock_alone_serves_the_same_answers(tmp_path, monkeypatch,
                                                            credit_model_dir):
    """The lock the credit image installs, in a venv of its own: the service starts from it
    and answers exactly as the project venv's does (the image's lock misses nothing)."""
    from bench.answers import applicants

    monkeypatch.setattr(peer_venv, "BENCH_DIR", tmp_path)
    python = model_venv.ensure("credit")
    assert python == tmp_path / ".venv-model-credit" / "bin" / "python"
    assert (python.parent.parent / peer_venv.STAMP).read_text().startswith("sha256:")
    for training_only in ("xgboost", "sklearn"):  # training libraries stay out of it
        done = subprocess.run([str(python), "-c", f"import {training_only}"],
                              capture_output=True, text=True)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr
    assert subprocess.run([str(python), "-c", "import onnxruntime"]).returncode == 0
    body = json.dumps({"instances": applicants(4)}).encode()
    logs = tmp_path / "logs"
    own = start_service("credit", credit_model_dir, logs, python=str(python), timeout_s=120)
    project = start_service("credit", credit_model_dir, logs / "project", timeout_s=120)
    try:
        assert own.popen.args[0] == str(python) and project.popen.args[0] == sys.executable
        answers = [post_json(server.url + "/v1/models/credit:predict", body)
                   for server in (own, project)]
        assert [status for status, _ in answers] == [200, 200]
        mine, theirs = (json.loads(text)["predictions"] for _, text in answers)
        assert mine == theirs and len(mine) == 4
    finally:
        own.stop()
        project.stop()
    sentinel = python.parent.parent / "kept"
    sentinel.write_text("")
    assert model_venv.ensure("credit") == python and sentinel.exists()  # reused, not rebuilt
