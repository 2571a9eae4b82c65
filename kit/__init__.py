"""The service kit: what every finfleet model service is built from.

The names below load on first use (PEP 562), so a process that needs one small kit module —
the prediction log's writer process, a CLI — does not import the web stack with it.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Artifact": "kit.artifacts",
    "ArtifactStore": "kit.artifacts",
    "InvalidInput": "kit.errors",
    "ProblemError": "kit.errors",
    "ServedModel": "kit.model",
    "ServiceSettings": "kit.settings",
    "create_app": "kit.app",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kit' has no attribute {name!r}")
    return getattr(import_module(module), name)
