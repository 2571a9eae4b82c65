"""`/admin/jobs`: the trainer service's training-jobs API through the gateway, behind the admin
key like every `/admin` route (the guard). Bodies (JSON or a multipart upload) and answers
pass through unchanged; a trainer that is down is a 503 in the common error format."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.http1 import KeepAliveClient, MalformedResponse
from kit.errors import ProblemError

router = APIRouter(prefix="/admin/jobs", tags=["admin"])
FORWARDED_HEADERS = ("content-type", "x-request-id")


JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # the trainer's ids: time and random hex


class JobNotFound(ProblemError):
    status = 404
    title = "Job not found"
    slug = "job-not-found"


def job_path(job_id: str) -> str:
    """The trainer's path of one job; an id the trainer never makes is a 404 here, not a
    request line that cannot even be written."""
    if not JOB_ID.match(job_id):
        raise JobNotFound(f"no job {job_id[:80]!r}")
    return f"/v1/jobs/{job_id}"


class TrainerUnavailable(ProblemError):
    status = 503
    title = "Trainer unavailable"
    slug = "trainer-unavailable"


@router.get("")
async def list_jobs(request: Request) -> Response:
    """Every job, newest first."""
    return await forward(request, "GET", "/v1/jobs")


@router.post("", status_code=202)
async def start_job(request: Request) -> Response:
    """Start a training job: JSON `{"model", "data_path", "parameters"}` or multipart/form-data
    with the file as `data` (see the trainer's `POST /v1/jobs`)."""
    return await forward(request, "POST", "/v1/jobs", await request.body())


@router.get("/{job_id}")
async def get_job(job_id: str, request: Request) -> Response:
    """State, progress, metrics and log tail of one job."""
    return await forward(request, "GET", job_path(job_id))


@router.delete("/{job_id}")
async def cancel_job(job_id: str, request: Request) -> Response:
    """Cancel a queued or running job."""
    return await forward(request, "DELETE", job_path(job_id))


async def forward(request: Request, method: str, path: str, body: bytes = b"") -> Response:
    settings = request.app.state.settings
    client: KeepAliveClient | None = getattr(request.app.state, "trainer", None)
    if client is None:
        raise TrainerUnavailable("no trainer is configured (GATEWAY_TRAINER_URL)")
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS
               if name in request.headers}
    try:
        reply = await client.request(method, path, body, headers=headers,
                                     timeout=settings.trainer_timeout,
                                     retry_safe=method in ("GET", "DELETE"))
    except (OSError, TimeoutError, MalformedResponse) as exc:
        raise TrainerUnavailable(f"the trainer at {settings.trainer_url} did not answer: "
                                 f"{exc}") from exc
    return Response(reply.body, reply.status, media_type=reply.content_type or "application/json")
