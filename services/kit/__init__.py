"""The service kit: what every finfleet model service is built from."""

from services.kit.app import create_app
from services.kit.artifacts import Artifact, ArtifactStore
from services.kit.errors import InvalidInput, ProblemError
from services.kit.model import ServedModel
from services.kit.settings import ServiceSettings

__all__ = [
    "Artifact",
    "ArtifactStore",
    "InvalidInput",
    "ProblemError",
    "ServedModel",
    "ServiceSettings",
    "create_app",
]
