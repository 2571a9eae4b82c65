"""`finfleet`: one command for what is otherwise spread over `python -m` modules.

    finfleet run | demo | models            the local fleet (fleet/)
    finfleet train NAME [ARGS]              a model's trainer (services/<name>/train.py)
    finfleet retrain NAME [ARGS]            retrain from the prediction log (kit.retrain)
    finfleet models list|promote|rollback|alias NAME ...   releases (kit.releases)
    finfleet traffic show|set NAME ...      canary and shadow (gateway.traffic_cli)
    finfleet drift [show] NAME              a model's drift, from the monitor (fleet.drift_cli)
    finfleet drift report NAME --since 7d   served drift as Evidently HTML (kit.drift_report)
    finfleet bench [ARGS]                   make bench (bench.run)
    finfleet nginx render [ARGS]            the nginx config (gateway.nginx)
    finfleet auth hash-key KEY              an API or admin key's sha256 (gateway.auth)

Each subcommand runs its module as `python -m` would, with the rest of the command line, so
`finfleet <subcommand> --help` is that module's own help: one implementation of each.
"""

from __future__ import annotations

import runpy
import sys

from kit.catalog import load_catalog
from kit.settings import REPO_ROOT

# subcommand → (module, what it does); `models` with no release verb trains what is missing.
COMMANDS = {
    "run": ("fleet", "bring the whole fleet up locally"),
    "demo": ("fleet", "send each model its example through the gateway"),
    "train": (None, "train one model: finfleet train NAME [--data FILE] [--quick] ..."),
    "retrain": ("kit.retrain", "retrain NAME from its prediction log and outcomes, then gate it"),
    "models": ("kit.releases", "list | promote | rollback | alias NAME (no verb: train missing)"),
    "traffic": ("gateway.traffic_cli", "show | set NAME: canary and shadow at the gateway"),
    "drift": ("fleet.drift_cli", "[show] NAME: drift per version, from the monitor; report NAME: "
               "Evidently HTML"),
    "bench": ("bench.run", "the benchmarks (make bench)"),
    "nginx": ("gateway.nginx", "render the nginx config"),
    "auth": ("gateway.auth", "hash-key KEY: the sha256 to list in the settings"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = [f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items()]
    return "usage: finfleet COMMAND [ARGS]   (finfleet COMMAND --help for its options)\n\n" \
           + "\n".join(rows)


def resolve(argv: list[str]) -> tuple[str, list[str]]:
    """The module to run and its arguments, for `finfleet ARGV`."""
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        raise SystemExit(f"finfleet: unknown command {command!r}\n\n{usage()}")
    if command in ("run", "demo"):
        return "fleet", [command, *rest]
    if command == "models" and not rest:
        return "fleet", ["models"]  # train every model that has no version yet
    if command == "train":
        if not rest or rest[0].startswith("-"):
            names = ", ".join(load_catalog().names)
            raise SystemExit(f"usage: finfleet train NAME [ARGS]   (NAME: one of {names})")
        try:
            module = load_catalog().service(rest[0]).trainer_module
        except KeyError:
            raise SystemExit(f"finfleet: no model named {rest[0]!r}; models: "
                             f"{', '.join(load_catalog().names)}") from None
        return module, rest[1:]
    if command == "auth":
        if len(rest) != 2 or rest[0] != "hash-key":
            raise SystemExit("usage: finfleet auth hash-key KEY")
        return "gateway.auth", rest[1:]
    return COMMANDS[command][0], rest


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    module, rest = resolve(argv)
    if module.startswith("bench"):  # a checkout's tool, not a package: found from the checkout
        sys.path.insert(0, str(REPO_ROOT))
    sys.argv = [f"finfleet {argv[0]}", *rest]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] in OUR_PACKAGES:
            raise
        raise SystemExit(missing_extra(argv[0], exc.name or "?", argv[1:])) from None


# Our own top-level packages: a missing one is a broken install, not a missing extra.
OUR_PACKAGES = frozenset({"kit", "services", "gateway", "fleet", "finfleet", "trainer", "bench"})


def missing_extra(command: str, module: str, rest: list[str]) -> str:
    """What to install when a subcommand's library is absent (`pip install .` has the client
    and this command; serving, training and rendering come with their extras)."""
    catalog = load_catalog()
    extras = {"run": ",".join(["run", "gateway", *(row.extra_name for row in catalog.services)]),
              "nginx": "gateway", "bench": "dev", "models": "train"}
    extra = extras.get(command, "")
    if command == "train" and rest:
        extra = f"train,{catalog.service(rest[0]).extra_name}"
    hint = f"pip install 'finfleet[{extra}]'" if extra else "make setup (a checkout)"
    return (f"finfleet {command}: the Python package {module!r} is not installed; "
            f"{hint} installs what this command needs")


if __name__ == "__main__":
    main()
