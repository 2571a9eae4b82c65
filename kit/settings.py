"""Settings bases: every finfleet HTTP process reads `HttpSettings`; model services read
`ServiceSettings` on top of it, each subclass with its own env prefix (CREDIT_, NER_, ...)."""

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
# Public datasets for benchmarks live beside the checkout (never committed into it).
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def otlp_endpoint_from_env() -> str | None:
    """The standard OpenTelemetry variables: the traces endpoint as given, else the base
    endpoint with `/v1/traces` appended (as the OTLP/HTTP spec says); None: tracing off."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


class HttpSettings(BaseSettings):
    """Where a process listens and the limits on what callers send; defaults run on one
    machine. The gateway and every model service extend it."""

    model_config = SettingsConfigDict(
        env_prefix="SERVICE_", extra="ignore", protected_namespaces=()
    )

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in containers)")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0: any free port)")
    max_body_bytes: int = Field(1_048_576, gt=0,
                                description="Largest request body; a larger one is a 413")
    max_instances: int = Field(256, gt=0, description="Most instances in one predict request")
    max_text_length: int = Field(2_000, gt=0, description="Longest text field, in characters")
    max_json_depth: int = Field(32, gt=1, le=200,
                                description="Deepest nesting of lists/objects in a body")
    log_level: str = Field("INFO", description="Python logging level of the JSON log lines")
    max_connections: int = Field(
        512, gt=0, description="Open connections (or requests in flight) before new requests "
                               "get a 503; keep it under the process's file-descriptor limit")
    request_timeout: float = Field(
        10.0, gt=0, description="Seconds a request's head and body may take to arrive")
    keep_alive_timeout: float = Field(5.0, gt=0,
                                      description="Seconds an idle keep-alive connection stays")
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For names the client (nginx); none by default")
    redis_url: str | None = Field(
        None, description="Redis for shared state (cache, stores); in-process when unset")
    otlp_endpoint: str | None = Field(
        default_factory=otlp_endpoint_from_env,
        description="OTLP/HTTP traces URL (http://collector:4318/v1/traces); tracing is off, "
                    "at no cost, when unset (docs/tracing.md). Defaults to "
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT")


class ServiceSettings(HttpSettings):
    """What a model service adds: where its artifacts are and how predict runs."""

    # A service that keeps per-user records (kit/stores.py) keeps them in process without
    # Redis: worker processes would each hold a different history of the same user.
    keeps_user_state: ClassVar[bool] = False

    model_dir: Path = Field(REPO_ROOT / "models",
                            description="Folder of <name>/<version>/ artifacts")
    model_version: str | None = Field(
        None, description="Serve this version and never swap it (a pin); unset: the alias")
    model_alias: str = Field(
        "production", description="The registry alias served (the newest version until the "
                                  "model has any alias)")
    registry_poll_seconds: float = Field(
        2.0, ge=0, description="How often the registry is checked for a moved alias "
                               "(0: only at start and on POST /admin/reload)")
    serve_candidate: bool = Field(
        False, description="Also hold the `candidate` alias's version, for version-addressed "
                           "predicts beside production")
    admin_token: str | None = Field(
        None, description="Bearer token the /admin routes require (unset: open, for a "
                          "network only the gateway reaches)")
    predict_threads: int = Field(2, gt=0, description="Threads of the bounded predict pool")
    workers: int = Field(
        1, ge=1, le=64, description="Server processes sharing the port, each with the model "
                                    "loaded, following the alias and logging on its own "
                                    "(docs/deploy.md, \"Workers\"); more than one uses more "
                                    "than one core")
    batching: Literal["auto", "on", "off"] | None = Field(
        None, description="Gather concurrent predicts into one model call (kit/batching.py): "
                          "auto (a lone request runs at once), on (always wait the window), "
                          "off; unset: the model's default")
    batch_max_items: int | None = Field(
        None, gt=0, description="Most instances in one gathered call; unset: the model's default")
    batch_window_ms: float | None = Field(
        None, ge=0, le=100, description="How long a free predict thread waits for more callers "
                                        "while another batch runs (always, with batching=on); "
                                        "unset: the model's default")
    mlflow_tracking_uri: str | None = Field(
        default_factory=lambda: os.environ.get("MLFLOW_TRACKING_URI") or None,
        description="MLflow server (http[s]://host:port) holding the registry; the file registry "
                    "under model_dir when unset. Defaults to MLFLOW_TRACKING_URI")
    log_url: str | None = Field(
        None, description="PostgreSQL (postgresql://user:pass@host/db) the prediction log and "
                          "outcomes go to, shared by replicas; unset: SQLite files in log_dir")
    log_dir: Path | None = Field(
        None, description="Folder of the embedded prediction log (<model>/predictions*.sqlite); "
                          "unset: logs/predictions beside model_dir")
    log_sample_rate: float = Field(1.0, ge=0, le=1,
                                   description="Share of requests logged (0: the log is off)")
    log_queue_size: int = Field(10_000, gt=0, description="Requests queued for the log writer; "
                                                          "past it records are dropped, counted")
    log_flush_seconds: float = Field(
        1.0, gt=0, description="How often the log writer drains (one transaction a drain)")
    log_max_bytes: int = Field(64 << 20, gt=0,
                               description="Size at which an embedded log file is rotated")
    log_keep_files: int = Field(4, ge=0, description="Rotated embedded log files kept")
    log_salt: str | None = Field(
        None, description="Secret salt user ids are hashed with in the log (set it outside "
                          "local runs; unset: a fixed development salt)")
    log_inputs: bool = Field(
        False, description="Log free-text inputs as sent; off: only their length and a summary")
    log_writer_nice: int = Field(
        10, ge=0, le=19, description="Niceness of the log's writer process: on a busy machine "
                                     "the serving process gets the CPU first (0: the same)")
    log_features_per_second: float | None = Field(
        None, ge=0, description="Logged predictions a second (at most; a bucket of 60 s) that "
                                "get drift features; unset: the model's default, 0: none")
    quality_seconds: float = Field(
        30.0, ge=0, description="How often live quality is computed from outcomes (0: never)")
    quality_window_seconds: float = Field(
        7 * 86400.0, gt=0, description="Predictions this recent count towards live quality")

    @model_validator(mode="after")
    def _workers_share_state(self):
        if self.workers > 1 and self.keeps_user_state and not self.redis_url:
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(
                f"{prefix}WORKERS={self.workers} needs {prefix}REDIS_URL: this service keeps "
                "per-user records, and worker processes share no memory (or set WORKERS=1)")
        return self


def settings_class(name: str) -> type[ServiceSettings]:
    """The settings class a model service defines in its `settings.py` (its env prefix and
    defaults), found through the table of services, so a CLI, the gate and the tests read a
    model's configuration exactly as its service does."""
    import importlib
    import inspect

    from kit.catalog import load_catalog

    module = importlib.import_module(f"{load_catalog().service(name).module_name}.settings")
    classes = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
               if issubclass(obj, ServiceSettings) and obj is not ServiceSettings
               and obj.__module__ == module.__name__]
    if len(classes) != 1:
        raise RuntimeError(f"{module.__name__}: expected one settings class, found "
                           f"{len(classes)}")
    return classes[0]
