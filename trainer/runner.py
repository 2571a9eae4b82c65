"""Runs training jobs as child processes (`python -m <trainer module>`), at most
`max_concurrent_jobs` at once, each in its own process group so a cancel stops everything it
started; a trainer restart marks what it was running as interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from kit.catalog import Catalog
from kit.training import PROGRESS_FILE_ENV
from trainer.jobs import Job, JobStore
from trainer.settings import TrainerSettings

JOB_ENV = "FINFLEET_JOB_ID"  # set in each job's process, so a restarted trainer can find it


class JobRunner:
    def __init__(self, store: JobStore, settings: TrainerSettings, catalog: Catalog,
                 logger: logging.Logger) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.logger = logger
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.cancelled: set[str] = set()
        self.workers: list[asyncio.Task] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self.workers = [asyncio.create_task(self._work()) for _ in
                        range(self.settings.max_concurrent_jobs)]

    async def stop(self) -> None:
        """On shutdown the running jobs are stopped; their records say interrupted."""
        for task in self.workers:
            task.cancel()
        for job_id in list(self.processes):
            await self._terminate(job_id)
            self._finish(job_id, "failed", error="interrupted: the trainer stopped")
        await asyncio.gather(*self.workers, return_exceptions=True)

    def recover(self) -> None:
        """Jobs a previous trainer left queued or running fail as interrupted (their process,
        if it outlived that trainer, is stopped), so no job vanishes or runs twice."""
        for job in self.store.all():
            if job.finished:
                continue
            if job.pid is not None and _is_our_job(job.pid, job.id):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job.pid, signal.SIGKILL)
            self._sweep_staging(job)
            job.state, job.finished_at = "failed", time.time()
            job.error = "interrupted: the trainer restarted while this job was " + (
                "running" if job.started_at else "queued")
            self.store.save(job)
            self.logger.warning("job interrupted", extra={"job": job.id, "model": job.model})

    # --- jobs -----------------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        self.store.create(job)
        self.queue.put_nowait(job.id)
        return job

    async def cancel(self, job_id: str) -> Job | None:
        """Stops a running job (SIGTERM to its group, SIGKILL after the grace period) or drops a
        queued one; a finished job is returned as it is."""
        job = self.store.get(job_id)
        if job is None or job.finished:
            return job
        self.cancelled.add(job_id)
        if job_id in self.processes:
            await self._terminate(job_id)
            process = self.processes.get(job_id)
            if process is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5)
            for _ in range(50):  # the worker records the end once the process has gone
                job = self.store.get(job_id)
                if job is None or job.finished:
                    return job
                await asyncio.sleep(0.05)
        return self._finish(job_id, "cancelled", error="cancelled")

    def command(self, job: Job) -> list[str]:
        row = self.catalog.service(job.model)
        argv = [sys.executable, "-m", row.trainer_module, "--model-dir",
                str(self.settings.store_of(job.model))]
        if job.data.get("path"):
            argv += ["--data", job.data["path"]]
        if job.parameters.quick:
            argv.append("--quick")
        if job.parameters.seed is not None:
            argv += ["--seed", str(job.parameters.seed)]
        if job.parameters.target is not None:
            argv += ["--target", job.parameters.target]
        if job.parameters.oos_target is not None:
            argv += ["--oos-target", job.parameters.oos_target]
        return argv

    async def _work(self) -> None:
        while True:
            job_id = await self.queue.get()
            try:
                await self._run(job_id)
            except Exception:  # a job's failure is its record's, never the worker's
                self.logger.exception("job runner failed", extra={"job": job_id})
                self._finish(job_id, "failed", error="the trainer failed to run this job")

    async def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None or job.finished or job_id in self.cancelled:
            return
        env = {**os.environ, PROGRESS_FILE_ENV: str(self.store.progress_file(job_id)),
               JOB_ENV: job_id, "PYTHONUNBUFFERED": "1"}
        log = await asyncio.to_thread(open, self.store.log_file(job_id), "ab")
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command(job), stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True)
        finally:
            log.close()  # the child holds its own copy
        self.processes[job_id] = process
        job.state, job.started_at, job.pid = "running", time.time(), process.pid
        self.store.save(job)
        self.logger.info("job started", extra={"job": job_id, "model": job.model})
        try:
            code = await process.wait()
        finally:
            self.processes.pop(job_id, None)
        saved = next((e for e in reversed(self.store.events(job_id)) if "saved" in e), None)
        if job_id in self.cancelled:
            self._sweep_staging(job)
            self._finish(job_id, "cancelled", exit_code=code, error="cancelled")
        elif code == 0 and saved is not None:
            self._finish(job_id, "succeeded", exit_code=code, version=saved["saved"],
                         metrics=saved.get("metrics") or {})
        else:
            self._sweep_staging(job)
            tail = self.store.log_tail(job_id, 3)
            self._finish(job_id, "failed", exit_code=code,
                         error=f"the trainer exited with code {code}"
                               + (f": {tail[-1]}" if tail else ""))

    async def _terminate(self, job_id: str) -> None:
        process = self.processes.get(job_id)
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.settings.cancel_grace_seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def _finish(self, job_id: str, state: str, **fields: Any) -> Job | None:
        job = self.store.get(job_id)
        if job is None:
            return None
        if not job.finished:
            job = job.model_copy(update={"state": state, "finished_at": time.time(), **fields})
            self.store.save(job)
            self.logger.info("job finished", extra={"job": job_id, "state": state})
        self.cancelled.discard(job_id)
        return job

    def _sweep_staging(self, job: Job) -> None:
        """A killed trainer cannot remove its staging folder itself: remove the ones this job
        made (created after it started), so the store holds only whole versions."""
        root = Path(self.settings.store_of(job.model)) / job.model
        if job.started_at is None or not root.is_dir():
            return
        for path in root.glob(f".{job.model}-staging-*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime >= job.started_at - 1:
                    shutil.rmtree(path, ignore_errors=True)


def _is_our_job(pid: int, job_id: str) -> bool:
    """Whether `pid` is still the process a job started (its environment names the job)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{JOB_ENV}={job_id}".encode() in environ.split(b"\0")
