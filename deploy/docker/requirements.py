"""Print the requirements of the project's base dependencies plus the named extras, one a line.

Images install from this list instead of `pip install .[extra]`, so a runtime image holds
exactly one service's extra and no build of the project itself (only its source is copied).
Usage: python requirements.py [--pyproject PATH] EXTRA [EXTRA ...]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

SELF_REFERENCE = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.-]+)\s*\[(?P<extras>[^\]]+)\]\s*$")


def requirements(project: dict, extras: list[str]) -> list[str]:
    """Base dependencies, then each extra's, expanding `<project>[other]` self-references."""
    name = project["name"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}; pyproject defines {sorted(optional)}")
    out: list[str] = list(project.get("dependencies", []))
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            match = SELF_REFERENCE.match(requirement)
            if match and match["name"] == name:
                pending.extend(part.strip() for part in match["extras"].split(","))
            else:
                out.append(requirement)
    return list(dict.fromkeys(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("extras", nargs="+")
    parser.add_argument("--pyproject", type=Path,
                        default=Path(__file__).with_name("pyproject.toml"))
    args = parser.parse_args(argv)
    project = tomllib.loads(args.pyproject.read_text())["project"]
    sys.stdout.write("".join(f"{line}\n" for line in requirements(project, args.extras)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
