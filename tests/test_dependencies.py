"""The installed packages are the lock's, and the internals the code leans on are still there.

The kit's hot path subclasses uvicorn's httptools protocol and rebuilds FastAPI/Starlette's
middleware stack; the anomaly export reads private attributes of scikit-learn's IsolationForest.
pyproject.toml pins those packages to the minor versions tested. When `make lock` moves one, these
tests name what changed instead of leaving a wrong answer or a slow path to be found later.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "all.txt"
IMAGE_LOCKS = sorted((ROOT / "requirements" / "images").glob("*.txt"))
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_installed_pin_is_the_locks():
    wrong = []
    for name, locked in pins(LOCK).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed != locked:
            wrong.append(f"{name} {installed} (lock: {locked})")
    assert not wrong, (
        "this environment is not the lock's: " + ", ".join(wrong)
        + " — run `make setup` (it installs requirements/all.txt)")


@pytest.mark.parametrize("image_lock", IMAGE_LOCKS, ids=lambda p: p.stem)
def test_image_locks_pin_what_the_main_lock_pins(image_lock):
    main = pins(LOCK)
    differ = {n: (v, main.get(n)) for n, v in pins(image_lock).items() if main.get(n) != v}
    assert not differ, f"{image_lock.name} disagrees with all.txt (run `make lock`): {differ}"


def test_the_lock_admits_every_declared_requirement():
    """A range edited in pyproject.toml without `make lock` is caught here, not on a new machine."""
    locked = pins(LOCK)
    declared = [*project()["dependencies"],
                *(r for extra in project()["optional-dependencies"].values() for r in extra)]
    outside = []
    for line in declared:
        requirement = Requirement(line)
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            outside.append(f"{line} (lock: {version})")
    assert not outside, "pyproject.toml asks for what the lock lacks: " + ", ".join(outside)


@pytest.mark.parametrize("package", ["fastapi", "starlette", "uvicorn", "scikit-learn"])
def test_packages_whose_internals_we_use_are_pinned_to_one_minor(package):
    declared = [*project()["dependencies"],
                *(r for extra in project()["optional-dependencies"].values() for r in extra)]
    specs = [Requirement(r).specifier for r in declared
             if canonicalize_name(Requirement(r).name) == package]
    assert specs, f"{package} is not declared in pyproject.toml"
    locked = pins(LOCK)[package]
    major, minor = (int(part) for part in locked.split(".")[:2])
    assert all(not spec.contains(f"{major}.{minor + 1}.0") for spec in specs), (
        f"{package} must be capped below {major}.{minor + 1}: the code uses its internals")


def test_uvicorn_protocol_hooks_the_kit_overrides():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from kit.serve import CoalescingHttpToolsProtocol

    for hook in ("connection_made", "connection_lost", "on_message_begin", "on_message_complete",
                 "on_response_complete", "send_400_response"):
        assert hook in vars(HttpToolsProtocol), (
            f"uvicorn's HttpToolsProtocol no longer defines {hook}: the kit's one-write "
            "responses (kit/serve.py) would silently stop coalescing")
    source = inspect.getsource(HttpToolsProtocol.connection_made)
    assert "self.transport = transport" in source, (
        "HttpToolsProtocol.connection_made no longer keeps the transport it is given: the kit's "
        "coalescing transport would be bypassed")
    assert "self.loop" in inspect.getsource(HttpToolsProtocol.__init__), (
        "HttpToolsProtocol has no `loop` attribute: CoalescingHttpToolsProtocol schedules on it")
    assert issubclass(CoalescingHttpToolsProtocol, HttpToolsProtocol)


def test_starlette_middleware_stack_shape_the_hot_path_rebuilds():
    from fastapi import FastAPI
    from starlette.routing import Match, Route

    from kit.http import HotPathApp

    class Marker:
        def __init__(self, app, flag: int) -> None:
            self.app = app

    app = FastAPI()
    app.add_middleware(Marker, flag=1)
    (cls, args, kwargs), = app.user_middleware  # HotPathApp unpacks each entry like this
    assert (cls, tuple(args), dict(kwargs)) == (Marker, (), {"flag": 1}), (
        "Starlette's Middleware entries no longer unpack to (cls, args, kwargs): "
        "HotPathApp (kit/http.py) rebuilds the user middleware from them")
    assert "build_middleware_stack" in vars(HotPathApp) and any(
        "build_middleware_stack" in vars(base) for base in FastAPI.__mro__), (
        "Starlette/FastAPI no longer build the stack in build_middleware_stack: HotPathApp "
        "overrides it")
    route = Route("/x", lambda request: None, methods=["POST"])
    match, child = route.matches({"type": "http", "path": "/x", "method": "POST",
                                  "root_path": ""})
    assert match is Match.FULL and "endpoint" in child, (
        "Starlette's Route.matches no longer returns (Match, child scope with the endpoint): "
        "HotPathApp's dispatch relies on it")


def test_isolation_forest_private_attributes_the_onnx_export_reads():
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.ensemble import IsolationForest, _iforest

    forest = IsolationForest(n_estimators=3, random_state=0).fit(
        np.random.default_rng(0).normal(size=(64, 2)))
    missing = [name for name in ("_decision_path_lengths", "_average_path_length_per_tree",
                                 "_max_samples", "estimators_features_")
               if not hasattr(forest, name)]
    assert not missing, (
        f"scikit-learn's IsolationForest lost {missing}: services/anomaly/export.py builds the "
        "ONNX forest from them")
    assert callable(getattr(_iforest, "_average_path_length", None)), (
        "sklearn.ensemble._iforest._average_path_length is gone: the ONNX export's score scale")
