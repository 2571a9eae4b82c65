"""The trainer service: `POST /v1/jobs` starts a training job (data uploaded or named by path),
`GET /v1/jobs[/{id}]` follows it, `DELETE /v1/jobs/{id}` cancels it. A job trains a new version
into the model store and registers it as `candidate`; the gate decides its promotion."""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from kit.catalog import load_catalog
from kit.datafiles import DataError
from kit.docs import install_docs
from kit.errors import InvalidInput, ProblemError, install_error_handlers, pydantic_errors
from kit.http import json_response, load_json
from kit.logs import json_logger
from kit.metrics import HttpMetrics
from kit.middleware import UPLOAD_OVERHEAD_BYTES, RequestContextMiddleware
from kit.tracing import install_tracing
from trainer.jobs import MODEL_ONLY, Job, JobStore, Parameters, new_id
from trainer.runner import JobRunner
from trainer.settings import TrainerSettings
from trainer.status import job_summary, job_view

UPLOAD_SUFFIXES = (".csv", ".jsonl", ".json", ".txt", ".tsv")


class JobNotFound(ProblemError):
    status = 404
    title = "Job not found"
    slug = "job-not-found"


def build_app(settings: TrainerSettings | None = None) -> FastAPI:
    settings = settings or TrainerSettings()
    logger = json_logger("trainer", settings.log_level)
    metrics = HttpMetrics("trainer")
    catalog = load_catalog()
    store = JobStore(settings.jobs_dir)
    jobs_gauge = Gauge("finfleet_training_jobs", "Training jobs by state", ["state"],
                       registry=metrics.registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runner = JobRunner(store, settings, catalog, logger)
        runner.start()
        app.state.runner = runner
        try:
            yield
        finally:
            await runner.stop()

    app = FastAPI(title="finfleet trainer", lifespan=lifespan, docs_url=None, redoc_url=None,
                  redirect_slashes=False)
    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, logger=logger,
                       max_body_bytes=settings.max_body_bytes,
                       uploads={"/v1/jobs": settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES})
    install_tracing(app, settings, "trainer", logger)  # nothing at all when off

    def runner_of(request: Request) -> JobRunner:
        return request.app.state.runner

    def view(job: Job) -> dict[str, Any]:
        return job_view(job, store, settings.log_tail_lines, settings.store_of(job.model))

    @app.get("/health/live", tags=["probes"])
    async def live() -> Response:
        return json_response({"status": "alive"})

    @app.get("/health/ready", tags=["probes"])
    async def ready(request: Request) -> Response:
        started = getattr(request.app.state, "runner", None) is not None
        return json_response({"status": "ready" if started else "not_ready"},
                             200 if started else 503)

    @app.get("/metrics", tags=["probes"])
    async def prometheus() -> Response:
        counts: dict[str, int] = {}
        for job in store.all():
            counts[job.state] = counts.get(job.state, 0) + 1
        for state in ("queued", "running", "succeeded", "failed", "cancelled"):
            jobs_gauge.labels(state).set(counts.get(state, 0))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/jobs", status_code=202, tags=["jobs"], openapi_extra=JOBS_REQUEST)
    async def start_job(request: Request) -> Response:
        """Queue a training job: JSON (`model`, `data_path`, `parameters`) or multipart/form-data
        (`model`, `parameters` as JSON text, the file as `data`). Answers 202 with the job."""
        job = await job_from(request, settings, catalog, store)
        runner_of(request).submit(job)
        return json_response(view(job), 202)

    @app.get("/v1/jobs", tags=["jobs"])
    async def list_jobs() -> Response:
        return json_response({"jobs": [job_summary(job) for job in reversed(store.all())]})

    @app.get("/v1/jobs/{job_id}", tags=["jobs"])
    async def get_job(job_id: str) -> Response:
        job = found(store, job_id)
        return json_response(view(job))

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"])
    async def cancel_job(job_id: str, request: Request) -> Response:
        """Cancel: a queued job never starts; a running one is stopped (its process group gets
        SIGTERM, then SIGKILL after the grace period) and its staging folder removed."""
        job = found(store, job_id)
        job = await runner_of(request).cancel(job_id) or job
        return json_response(view(job))

    return app


def found(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id!r}")
    return job


async def job_from(request: Request, settings: TrainerSettings, catalog,
                   store: JobStore) -> Job:
    """The job a request asks for, its upload saved into the job's folder; every mistake is a
    422 naming its field."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    upload: UploadFile | None = None
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=8)
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if "parameters" in fields:
            fields["parameters"] = _json_field(fields["parameters"], "parameters")
    else:
        fields = load_json(await request.body(), settings.max_json_depth)
        if not isinstance(fields, dict):
            raise InvalidInput("the body must be a JSON object",
                               errors=[{"field": "body", "message": "an object",
                                        "type": "object_type"}])
    unknown = set(fields) - {"model", "data_path", "parameters"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}",
                           errors=[{"field": name, "message": "not a job field",
                                    "type": "extra_forbidden"} for name in sorted(unknown)])
    model = fields.get("model")
    if model not in catalog.names:
        raise InvalidInput(f"model must be one of {', '.join(catalog.names)}",
                           errors=[{"field": "model", "message": f"got {model!r}",
                                    "type": "enum"}])
    try:
        parameters = Parameters.model_validate(fields.get("parameters") or {})
    except ValidationError as exc:
        raise InvalidInput("invalid parameters",
                           errors=pydantic_errors(exc, prefix="parameters")) from exc
    for name, models in MODEL_ONLY.items():
        if getattr(parameters, name) is not None and model not in models:
            raise InvalidInput(f"parameter {name!r} applies to {', '.join(sorted(models))} only",
                               errors=[{"field": f"parameters.{name}",
                                        "message": f"not a {model} parameter",
                                        "type": "extra_forbidden"}])
    job = Job(id=new_id(), model=model, parameters=parameters)
    if upload is not None and fields.get("data_path"):
        raise InvalidInput("give a file or a data_path, not both",
                           errors=[{"field": "data", "message": "one source", "type": "conflict"}])
    if upload is not None:
        job.data = await save_upload(upload, store.folder(job.id))
    elif fields.get("data_path"):
        job.data = {"kind": "path", "path": str(allowed_path(fields["data_path"], settings))}
    else:
        job.data = {"kind": "default"}
        return job
    try:
        await asyncio.to_thread(check_data, catalog.service(model), Path(job.data["path"]),
                                parameters.model_dump())
    except DataError as exc:
        if job.data["kind"] == "upload":
            shutil.rmtree(store.folder(job.id), ignore_errors=True)
        raise InvalidInput(f"the {model} training file cannot be used: {len(exc.problems)} "
                           "problem(s)", errors=[p.as_error() for p in exc.problems]) from exc
    return job


def check_data(row, path: Path, parameters: dict[str, Any]) -> None:
    """The model's own check of a user's file (`check_user_data` in its `own_data` or `data`
    module), where it has one; a DataError names each line and column."""
    for name in ("own_data", "data"):
        try:
            module = importlib.import_module(f"{row.module_name}.{name}")
        except ImportError:
            continue
        check = getattr(module, "check_user_data", None)
        if check is not None:
            check(path, parameters)
            return


async def save_upload(upload: UploadFile, folder: Path) -> dict[str, Any]:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidInput(f"the file must be one of {', '.join(UPLOAD_SUFFIXES)}",
                           errors=[{"field": "data", "message": f"got {upload.filename!r}",
                                    "type": "file_type"}])
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.filename or "data").stem)[:80] or "data"
    path = folder / "data" / f"{stem}{suffix}"  # the trainer's manifest names the user's file
    size = await asyncio.to_thread(_write, upload, path)
    if size == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise InvalidInput("the uploaded file is empty",
                           errors=[{"field": "data", "message": "0 bytes", "type": "empty"}])
    return {"kind": "upload", "path": str(path), "filename": upload.filename, "bytes": size}


def _write(upload: UploadFile, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        shutil.copyfileobj(upload.file, out)
    return path.stat().st_size


def allowed_path(raw: Any, settings: TrainerSettings) -> Path:
    """A data file the trainer may read: an existing file inside one of `data_roots`."""
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("data_path must be a path",
                           errors=[{"field": "data_path", "message": "a string",
                                    "type": "string_type"}])
    path = Path(raw).resolve()
    roots = [Path(root).resolve() for root in settings.data_roots]
    if not any(path.is_relative_to(root) for root in roots):
        raise InvalidInput(f"data_path must be inside {', '.join(map(str, roots)) or '(none)'} "
                           "(TRAINER_DATA_ROOTS); upload the file instead",
                           errors=[{"field": "data_path", "message": "outside the data roots",
                                    "type": "path_not_allowed"}])
    if not path.is_file():
        raise InvalidInput(f"no file at {path}",
                           errors=[{"field": "data_path", "message": "no such file",
                                    "type": "not_found"}])
    return path


def _json_field(text: str, name: str) -> Any:
    try:
        return load_json(text.encode(), 8)
    except ProblemError as exc:
        raise InvalidInput(f"{name} must be JSON: {exc.detail}",
                           errors=[{"field": name, "message": "not JSON",
                                    "type": "json_invalid"}]) from exc


JOBS_REQUEST = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "required": ["model"], "additionalProperties": False,
        "properties": {
            "model": {"type": "string", "description": "a model of the fleet"},
            "data_path": {"type": "string",
                          "description": "a file inside TRAINER_DATA_ROOTS (else: the model's "
                                         "default data)"},
            "parameters": Parameters.model_json_schema()}}},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["model"],
        "properties": {"model": {"type": "string"},
                       "parameters": {"type": "string", "description": "JSON text"},
                       "data": {"type": "string", "format": "binary"}}}}}}}
