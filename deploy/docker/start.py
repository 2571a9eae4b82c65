"""Container entry of the model image: serve or train the service named by FINFLEET_SERVICE.

One image recipe serves every row of services.toml, and a Dockerfile cannot derive a variable's
name (CREDIT_PORT) from a build argument. So this sets the service's own `<NAME>_HOST`,
`<NAME>_PORT` and `<NAME>_MODEL_DIR` from FINFLEET_HOST, the table's port and FINFLEET_MODEL_DIR
where they are not set already (compose and Kubernetes may set them), then becomes
`python -m <module>` (serve) or `python -m <trainer> ARGS` (train).
Usage: python start.py serve | python start.py train [ARGS...]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.environ.get("FINFLEET_APP", "/app"))

from kit.catalog import ServiceRow, load_catalog


def service_row(environ: dict[str, str]) -> ServiceRow:
    name = environ.get("FINFLEET_SERVICE")
    if not name:
        raise SystemExit("FINFLEET_SERVICE is not set: which service should this image run?")
    return load_catalog().service(name)


def service_environment(row: ServiceRow, environ: dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.setdefault(f"{row.env_prefix}HOST", environ.get("FINFLEET_HOST", "0.0.0.0"))
    env.setdefault(f"{row.env_prefix}PORT", str(row.port))
    if "FINFLEET_MODEL_DIR" in environ:
        env.setdefault(f"{row.env_prefix}MODEL_DIR", environ["FINFLEET_MODEL_DIR"])
    return env


def command(row: ServiceRow, argv: list[str]) -> list[str]:
    if argv[:1] == ["serve"] and len(argv) == 1:
        return [sys.executable, "-m", row.module_name]
    if argv[:1] == ["train"]:
        return [sys.executable, "-m", row.trainer_module, *argv[1:]]
    raise SystemExit("usage: start.py serve | start.py train [ARGS...]")


def main(argv: list[str]) -> None:
    row = service_row(dict(os.environ))
    args = command(row, argv)
    os.execvpe(args[0], args, service_environment(row, dict(os.environ)))


if __name__ == "__main__":
    main(sys.argv[1:])
