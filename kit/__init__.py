"""The service kit: what every finfleet model service is built from."""

from kit.app import create_app
from kit.artifacts import Artifact, ArtifactStore
from kit.errors import InvalidInput, ProblemError
from kit.model import ServedModel
from kit.settings import ServiceSettings

__all__ = [
    "Artifact",
    "ArtifactStore",
    "InvalidInput",
    "ProblemError",
    "ServedModel",
    "ServiceSettings",
    "create_app",
]
