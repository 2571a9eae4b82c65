"""The drift monitor's settings (env prefix MONITOR_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kit.settings import REPO_ROOT, HttpSettings

MONITOR_PORT = 8095


class MonitorSettings(HttpSettings):
    model_config = SettingsConfigDict(env_prefix="MONITOR_", extra="ignore",
                                      protected_namespaces=())

    port: int = Field(MONITOR_PORT, ge=0, le=65535,
                      description="Port to listen on (0: any free port)")
    models: list[str] = Field(default_factory=list,
                              description="Models watched (JSON list); empty: every model in "
                                          "services.toml")
    interval_seconds: float = Field(30.0, gt=0, description="How often every model is scored")
    window_seconds: float = Field(3600.0, gt=0,
                                  description="The window: predictions this recent are scored")
    window_seconds_by_model: dict[str, float] = Field(
        default_factory=lambda: {"anomaly": 86400.0},
        description="Per-model windows that override window_seconds, JSON name → seconds "
                    "(anomaly: a whole day, its hours have a daily cycle)")
    window_max: int = Field(5000, gt=0, description="Most records a window holds (the newest)")
    window_min: int = Field(100, gt=0, description="Records a version needs in the window "
                                                   "before it is scored")
    history_points: int = Field(240, gt=0, description="Dataset scores kept per version for "
                                                       "the endpoint's history (in memory)")
    log_url: str | None = Field(
        None, description="The prediction log's PostgreSQL (the services' <NAME>_LOG_URL); "
                          "unset: the SQLite files under log_dir")
    log_dir: Path = Field(REPO_ROOT / "logs" / "predictions",
                          description="The embedded log's folder (<model>/predictions*.sqlite), "
                                      "the services' <NAME>_LOG_DIR")
    log_dirs: dict[str, Path] = Field(
        default_factory=dict, description="Per-model log folders that override log_dir, JSON "
                                          "name → folder")
    model_dir: Path = Field(REPO_ROOT / "models",
                            description="The artifact store the reference profiles are read "
                                        "from (the one the services serve from)")
    model_dirs: dict[str, Path] = Field(
        default_factory=dict, description="Per-model artifact stores that override model_dir, "
                                          "JSON name → folder (compose: each model's volume)")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow registry holding the artifacts; the file store when unset")

    def window_of(self, model: str) -> float:
        return self.window_seconds_by_model.get(model, self.window_seconds)

    def log_dir_of(self, model: str) -> Path:
        return self.log_dirs.get(model, self.log_dir)

    def store_of(self, model: str) -> Path:
        return self.model_dirs.get(model, self.model_dir)
