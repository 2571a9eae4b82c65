# syntax=docker/dockerfile:1.7
# finfleet model services: one recipe for every row of services.toml. The runtime image holds
# that service's part of the lock, the kit, its source and one trained artifact; training
# libraries live only in the `trainer` stage. Build from the repository root (`make images`):
#   docker build -f deploy/docker/model.Dockerfile --build-arg SERVICE=credit \
#     --build-arg PORT=8005 -t finfleet/credit .
#   docker build -f deploy/docker/model.Dockerfile --build-arg SERVICE=credit --target trainer \
#     -t finfleet/credit-trainer .
# Bake an artifact trained elsewhere instead of training during the build:
#   ... --build-arg MODEL_SOURCE=copied --build-context models=models
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG MODEL_SOURCE=trained

FROM ${PYTHON_IMAGE} AS base
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<a name in services.toml>" >&2; exit 1; }
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    FINFLEET_SERVICE=${SERVICE}
RUN groupadd --system --gid 10001 finfleet \
 && useradd --system --uid 10001 --gid finfleet --no-create-home --shell /usr/sbin/nologin finfleet
WORKDIR /app

FROM base AS runtime-deps
ARG SERVICE
# The image's part of the lock (requirements/images/<service>.txt, made by `make lock`), hash-checked.
COPY requirements/images/${SERVICE}.txt /build/runtime.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r /build/runtime.txt

FROM runtime-deps AS trainer
ARG SERVICE
# Every trainer's lock: the training libraries, torch's CPU build (pinned +cpu: no CUDA wheels).
COPY requirements/images/trainer.txt /build/train.txt
RUN /opt/venv/bin/pip install --require-hashes --no-deps \
      --extra-index-url https://download.pytorch.org/whl/cpu -r /build/train.txt
COPY services.toml ./
COPY services/__init__.py services/
COPY kit kit
COPY services/${SERVICE} services/${SERVICE}
COPY deploy/docker/retrain.py deploy/docker/start.py /opt/finfleet/
RUN mkdir -p /models /opt/finfleet/models && chown 10001:10001 /models /opt/finfleet/models
ENV PATH=/opt/venv/bin:$PATH
USER 10001:10001
# The retraining job: train a candidate, gate and promote it only when AUTO_PROMOTE=true.
CMD ["python", "/opt/finfleet/retrain.py", "--model-dir", "/models"]

FROM trainer AS model-trained
RUN python /opt/finfleet/start.py train --model-dir /opt/finfleet/models

FROM scratch AS model-copied
ARG SERVICE
COPY --from=models ${SERVICE} /opt/finfleet/models/${SERVICE}

FROM model-${MODEL_SOURCE} AS model

FROM base AS runtime
ARG SERVICE
ARG PORT
COPY --from=runtime-deps /opt/venv /opt/venv
COPY services.toml ./
COPY services/__init__.py services/
COPY kit kit
COPY services/${SERVICE} services/${SERVICE}
COPY deploy/docker/healthcheck.py deploy/docker/seed_models.py deploy/docker/start.py /opt/finfleet/
COPY --from=model /opt/finfleet/models /opt/finfleet/models
# The mount point of a writable model volume (the registry moves aliases there): owned by the
# service's user, so a new named volume in compose starts out writable by it.
RUN mkdir /models && chown 10001:10001 /models
ENV PATH=/opt/venv/bin:$PATH \
    FINFLEET_HOST=0.0.0.0 \
    FINFLEET_MODEL_DIR=/opt/finfleet/models
USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "/opt/finfleet/healthcheck.py", "/health/live"]
CMD ["python", "/opt/finfleet/start.py", "serve"]
