"""`pip install .` into a fresh venv, outside any checkout: the `finfleet` command and the Python
client work, a subcommand whose extra is missing says what to install, and the installed client
gets typed answers from a real gateway."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

# What the wheel is built from (the rest of the checkout is not part of the package).
SOURCES = ("pyproject.toml", "README.md", "services.toml", "kit", "services", "gateway", "fleet",
           "finfleet", "trainer")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.egg-info")


def lock_pins(lock: Path, out: Path) -> Path:
    """The lock's `name==version` lines without hashes: pip turns on hash checking for every
    requirement when a constraint has one, and a local directory cannot be hashed."""
    pins = [line.split(" ")[0] for line in lock.read_text().splitlines()
            if line[:1].isalnum() and "==" in line]
    out.write_text("\n".join(pins) + "\n")
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with `pip install .` of a copy of this checkout (the lock's versions)."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    for name in SOURCES:
        src = procs.REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=SKIP)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = lock_pins(procs.REPO_ROOT / "requirements" / "all.txt", root / "pins.txt")
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "-c", str(pins), str(source)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def run(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv if "/" in argv[0] else [str(venv / "bin" / argv[0]), *argv[1:]],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_the_command_and_the_client_work_outside_a_checkout(installed, tmp_path):
    helped = run(installed, "finfleet", "--help", cwd=tmp_path)
    assert helped.returncode == 0
    assert all(command in helped.stdout for command in ("run", "demo", "models", "auth"))
    hashed = run(installed, "finfleet", "auth", "hash-key", "abc", cwd=tmp_path)
    assert hashed.stdout.strip() == hashlib.sha256(b"abc").hexdigest()
    probe = ("from finfleet.client import prediction_class; from kit.catalog import load_catalog;"
             "print(prediction_class('credit').__name__, *load_catalog().names)")
    found = run(installed, "python", "-c", probe, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["CreditPrediction", "intent", "ner", "spending", "anomaly",
                                    "credit"]


def test_a_subcommand_without_its_extra_names_the_extra(installed, tmp_path):
    rendered = run(installed, "finfleet", "nginx", "render", cwd=tmp_path)
    assert rendered.returncode != 0
    assert "jinja2" in rendered.stderr and "finfleet[gateway]" in rendered.stderr
    assert "Traceback" not in rendered.stderr
    trained = run(installed, "finfleet", "train", "credit", cwd=tmp_path)
    assert "finfleet[train,credit]" in trained.stderr and "Traceback" not in trained.stderr


def test_the_installed_client_gets_typed_answers_from_a_real_gateway(installed, tmp_path,
                                                                     tmp_path_factory):
    model_dir = procs.trained_credit_dir(tmp_path_factory)
    started: list[procs.Proc] = []
    try:
        credit = procs.start_credit(model_dir, tmp_path)
        started.append(credit)
        gateway = procs.start_gateway(
            {"GATEWAY_UPSTREAMS": json.dumps(procs.upstreams_with(credit=credit.url))}, tmp_path)
        started.append(gateway)
        script = ("import json, sys; from finfleet import Client\n"
                  "with Client(sys.argv[1]) as fleet:\n"
                  "    answer = fleet.predict('credit', json.loads(sys.argv[2]))\n"
                  "print(type(answer.prediction).__name__, answer.prediction.band,"
                  " answer.model_version)\n")
        asked = run(installed, "python", "-c", script, gateway.url, json.dumps(procs.APPLICANT),
                    cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        kind, band, version = asked.stdout.split()
        assert kind == "CreditPrediction" and band in ("low", "medium", "high") and version
    finally:
        for proc in reversed(started):
            proc.stop()
