"""The table of services (`services.toml`), read once and checked, for everything that lists them.

The launcher, the gateway's defaults, the benches, the demo, the image build and the deploy
checks take names, ports, examples and cache TTLs from here, so a sixth model is a folder and a
row. `FINFLEET_SERVICES` names another table (a deployment's own, or a test's).
`python -m kit.catalog names` prints the service names (for the Makefile and shell scripts).
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kit.settings import REPO_ROOT

DEFAULT_TABLE = REPO_ROOT / "services.toml"
# Where `pip install .` puts the table (pyproject's data-files): an installed finfleet has no
# checkout around it.
INSTALLED_TABLE = Path(sys.prefix) / "share" / "finfleet" / "services.toml"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CompareRow(_Row):
    """One declared comparison of a candidate's prediction with production's (gateway/compare.py):
    declared here so the gateway compares JSON answers without importing model code."""

    kind: Literal["agree", "shift", "relative", "spans_f1"]
    path: str = Field(min_length=1, description="dotted, as value_at: `forecast.0.yhat`")
    keys: tuple[str, ...] = Field(("start", "end", "label"), min_length=1,
                                  description="spans_f1: the fields that make two spans equal")


class ServiceRow(_Row):
    """One model service."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    port: int = Field(ge=1, le=65535)
    answers: str
    example: dict[str, Any]
    vary: str
    extra: str | None = None
    module: str | None = None
    trainer: str | None = None
    cache_ttl: float = Field(60.0, ge=0)
    read_timeout: float | None = Field(None, gt=0)
    describe: str | None = None
    compare: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], CompareRow] = {}
    # Fields of production's prediction a shadow copy's instance takes when it has none (ids
    # production made up, so the candidate scores the same transaction, not a new one).
    shadow_copies: tuple[str, ...] = ()

    @property
    def module_name(self) -> str:
        return self.module or f"services.{self.name}"

    @property
    def trainer_module(self) -> str:
        return self.trainer or f"{self.module_name}.train"

    @property
    def extra_name(self) -> str:
        return self.extra or self.name

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    @model_validator(mode="after")
    def _vary_names_a_field(self) -> ServiceRow:
        value_at(self.example, self.vary)
        return self


class FanoutRow(_Row):
    """One gateway route that asks several models at once."""

    name: str
    path: str
    parts: dict[str, str]
    example: dict[str, Any]
    vary: str

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.parts.values()))


class GatewayRow(_Row):
    port: int = Field(8000, ge=1, le=65535)


class Catalog(_Row):
    gateway: GatewayRow = GatewayRow()
    services: tuple[ServiceRow, ...] = Field(alias="service")
    fanout: tuple[FanoutRow, ...] = ()

    @model_validator(mode="after")
    def _unique_and_known(self) -> Catalog:
        names = [s.name for s in self.services]
        ports = [s.port for s in self.services] + [self.gateway.port]
        if len(set(names)) != len(names):
            raise ValueError(f"service names repeat: {names}")
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports repeat (gateway included): {ports}")
        for route in self.fanout:
            unknown = set(route.needs) - set(names)
            if unknown:
                raise ValueError(f"fan-out {route.name} needs unknown services {sorted(unknown)}")
        return self

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def service(self, name: str) -> ServiceRow:
        for row in self.services:
            if row.name == name:
                return row
        raise KeyError(f"no service {name!r} in the table; it has {self.names}")

    def upstream_urls(self, host: str = "127.0.0.1") -> dict[str, str]:
        return {s.name: f"http://{host}:{s.port}" for s in self.services}


def table_path() -> Path:
    """`$FINFLEET_SERVICES`, else the checkout's table, else the installed copy."""
    if os.environ.get("FINFLEET_SERVICES"):
        return Path(os.environ["FINFLEET_SERVICES"])
    if DEFAULT_TABLE.is_file() or not INSTALLED_TABLE.is_file():
        return DEFAULT_TABLE
    return INSTALLED_TABLE


@functools.cache
def _load(path: Path) -> Catalog:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"cannot read the table of services {path}: {exc}") from exc
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise SystemExit(f"the table of services {path} is not valid:\n{exc}") from exc


def load_catalog(path: Path | None = None) -> Catalog:
    """The table at `path`, `$FINFLEET_SERVICES` or `services.toml` (parsed once per path)."""
    return _load((path or table_path()).resolve())


def example_of(name: str) -> dict[str, Any] | None:
    """The table's example instance (for the docs); None for a service the table lacks."""
    try:
        return load_catalog().service(name).example
    except KeyError:
        return None


def port_of(name: str):
    """A settings default: the service's port in the table."""
    return lambda: load_catalog().service(name).port


def _steps(path: str) -> list[str | int]:
    return [int(step) if step.lstrip("-").isdigit() else step for step in path.split(".")]


def value_at(document: dict[str, Any], path: str) -> Any:
    """The value at a dotted path ("history.-1.amount"); a ValueError names a missing path."""
    node: Any = document
    try:
        for step in _steps(path):
            node = node[step]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"the example has no field {path!r}") from exc
    return node


def with_value_at(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `document` with the value at `path` replaced."""
    result = copy.deepcopy(document)
    *parents, last = _steps(path)
    node: Any = result
    for step in parents:
        node = node[step]
    node[last] = value
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    catalog = load_catalog()
    if args == ["names"]:
        print(" ".join(catalog.names))
    elif args == ["ports"]:
        print(" ".join(f"{s.name}={s.port}" for s in catalog.services))
    else:
        print("usage: python -m kit.catalog names|ports", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
