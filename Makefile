# finfleet: `make run` brings the fleet up, `make test` checks it. Everything runs from .venv.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
FINFLEET := .venv/bin/finfleet
STAMP := .venv/.finfleet-installed
EXTRAS := credit,intent,ner,spending,anomaly,gateway,train,run,dev
# The model services and their ports (name=port), from the table of services (services.toml).
SERVICE_PORTS = $(shell python3 -c 'import tomllib; print(" ".join("%s=%s" % (s["name"], s["port"]) for s in tomllib.load(open("services.toml", "rb"))["service"]))')

LOCK := requirements/all.txt

.PHONY: setup lock models run demo test lint bench bench-quick eval images k8s-check clean \
	mlflow-server-venv mlflow-server-lock evidently evidently-lock

setup: $(STAMP)

# Installs exactly the lock (every extra, with hashes), then the project itself, unbuilt deps off.
$(STAMP): $(LOCK) pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --require-hashes --no-deps -r $(LOCK)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PIP) check
	@touch $(STAMP)

# Re-resolve every lock to the newest releases pyproject.toml allows (then `make test`).
lock: setup
	PY=$(PY) bash requirements/lock.sh

# Train every model that has no artifact yet (a no-op on later runs).
models: setup
	$(FINFLEET) models

run: setup
	$(FINFLEET) run

demo: setup
	$(FINFLEET) demo

test: models
	$(PY) -m pytest -q

# Speed: every service direct, through the gateway (miss/hit), fan-out, and MLServer as a peer.
bench: setup
	$(FINFLEET) bench

bench-quick: setup
	$(FINFLEET) bench --quick

# Accuracy: each model on its public benchmark from ../shared/data → bench/EVAL.md.
eval: setup
	$(PY) -m bench.eval

lint: setup
	.venv/bin/ruff check kit services gateway fleet monitor tests bench

# Container images (needs a Docker engine): one small runtime image per model, plus trainers.
images:
	@for row in $(SERVICE_PORTS); do s=$${row%=*}; port=$${row#*=}; \
	  args="-f deploy/docker/model.Dockerfile --build-arg SERVICE=$$s --build-arg PORT=$$port"; \
	  docker build $$args -t finfleet/$$s:dev . || exit 1; \
	  docker build $$args --target trainer -t finfleet/$$s-trainer:dev . || exit 1; \
	done
	docker build -f gateway/Dockerfile -t finfleet/gateway:dev .
	docker build -f trainer/Dockerfile -t finfleet/trainer:dev .
	docker build -f monitor/Dockerfile -t finfleet/monitor:dev .

# Static deployment checks: kustomize builds, schema validation, compose config, promtool.
k8s-check: setup
	bash deploy/ci-tools.sh
	$(PY) -m pytest tests/test_deploy_*.py -q

# The MLflow tracking server (docs/mlflow.md), in its own venv from its own hashed lock: never in
# the project's venv or an image. The MLflow registry tests start it from here; CI builds it.
MLFLOW_VENV := .venv-mlflow
MLFLOW_LOCK := requirements/mlflow-server.txt

mlflow-server-venv: $(MLFLOW_VENV)/.finfleet-installed

$(MLFLOW_VENV)/.finfleet-installed: $(MLFLOW_LOCK) | $(STAMP)
	@test -x $(MLFLOW_VENV)/bin/python || $(PY) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q --require-hashes --no-deps -r $(MLFLOW_LOCK)
	$(MLFLOW_VENV)/bin/pip check
	@touch $@

mlflow-server-lock: setup
	.venv/bin/uv pip compile --quiet --upgrade --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make mlflow-server-lock" \
	  requirements/mlflow-server.in -o $(MLFLOW_LOCK)

# Evidently, for `finfleet drift report NAME` (docs/drift.md): its own venv from its own hashed
# lock, like the MLflow server's; never in the project's venv or an image. CI builds it.
EVIDENTLY_VENV := .venv-evidently
EVIDENTLY_LOCK := requirements/evidently.txt

evidently: $(EVIDENTLY_VENV)/.finfleet-installed

$(EVIDENTLY_VENV)/.finfleet-installed: $(EVIDENTLY_LOCK) | $(STAMP)
	@test -x $(EVIDENTLY_VENV)/bin/python || $(PY) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/pip install -q --require-hashes --no-deps -r $(EVIDENTLY_LOCK)
	$(EVIDENTLY_VENV)/bin/pip check
	@touch $@

evidently-lock: setup
	.venv/bin/uv pip compile --quiet --upgrade --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make evidently-lock" \
	  requirements/evidently.in -o $(EVIDENTLY_LOCK)

clean:
	rm -rf models logs .pytest_cache
