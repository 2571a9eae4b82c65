"""`finfleet`, the console command: installed by `make setup`, each subcommand the module it
names, its help that module's own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.cli import COMMANDS, resolve
from kit.settings import REPO_ROOT

BIN = Path(sys.executable).parent / "finfleet"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)


def test_the_command_is_installed_and_lists_every_subcommand():
    assert BIN.exists() or shutil.which("finfleet"), "make setup installs the finfleet script"
    done = run("--help")
    assert done.returncode == 0
    for name in COMMANDS:
        assert f"  {name} " in done.stdout


@pytest.mark.parametrize("argv", [["models", "--help"], ["train", "credit", "--help"],
                                  ["traffic", "--help"], ["drift", "--help"],
                                  ["drift", "show", "--help"], ["bench", "--help"],
                                  ["nginx", "--help"], ["run", "--help"],
                                  ["retrain", "--help"]])
def test_each_subcommand_has_its_modules_help(argv):
    done = run(*argv)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_subcommands_map_to_their_modules():
    assert resolve(["run"]) == ("fleet", ["run"])
    assert resolve(["models"]) == ("fleet", ["models"])
    assert resolve(["models", "list", "credit"]) == ("kit.releases", ["list", "credit"])
    assert resolve(["train", "ner", "--quick"]) == ("services.ner.train", ["--quick"])
    assert resolve(["auth", "hash-key", "k"]) == ("gateway.auth", ["k"])
    assert resolve(["drift", "credit"]) == ("fleet.drift_cli", ["credit"])
    assert resolve(["retrain", "credit", "--force"]) == ("kit.retrain", ["credit", "--force"])


def test_mistakes_say_what_exists():
    unknown = run("deploy")
    assert unknown.returncode != 0 and "unknown command 'deploy'" in unknown.stderr
    model = run("train", "nope")
    assert model.returncode != 0 and "intent" in model.stderr
    hashed = run("auth", "hash-key", "abc")
    assert hashed.stdout.strip() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
