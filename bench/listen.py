"""The loopback rule: nothing a bench server starts may listen beyond 127.0.0.1.

`ss -ltnpH` lists every listening TCP socket with the processes holding it; the bench keeps
those held by a server's process tree and fails the server when one is bound to a wildcard
(`0.0.0.0`, `*`, `[::]`) or to a non-loopback address. Ray is the one that needs this: it binds
several gRPC servers and metrics exporters of its own (docs/bench.md, "The loopback rule").
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from dataclasses import dataclass

_LINE = re.compile(r"^\S+\s+\d+\s+\d+\s+(?P<local>\S+)\s+\S+\s*(?P<users>.*)$")
_PID = re.compile(r"pid=(\d+)")
_NAME = re.compile(r'\("([^"]*)",pid=(\d+)')


@dataclass(frozen=True)
class Listener:
    address: str  # as ss prints it, brackets and scope stripped: "127.0.0.1", "::", "*"
    port: int
    pids: frozenset[int]
    process: str  # the first process name ss gives

    @property
    def loopback(self) -> bool:
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:  # "*" and names: every interface, or unknown
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or bool(mapped and mapped.is_loopback)

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port} ({self.process}, pid {min(self.pids, default=0)})"


def parse_ss(text: str) -> list[Listener]:
    """`ss -ltnpH` output → one Listener per socket line (lines it cannot read are skipped)."""
    out = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        host, _, port = match["local"].rpartition(":")
        if not port.isdigit():
            continue
        host = host.strip("[]").split("%")[0]
        names = _NAME.findall(match["users"])
        out.append(Listener(host, int(port), frozenset(int(p) for p in _PID.findall(
            match["users"])), names[0][0] if names else "?"))
    return out


def listeners() -> list[Listener]:
    done = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True)
    return parse_ss(done.stdout)


def beyond_loopback(found: list[Listener], pids: set[int]) -> list[Listener]:
    """The sockets held by any of `pids` that listen beyond loopback."""
    return [s for s in found if s.pids & pids and not s.loopback]


def violations(pids: list[int]) -> list[str]:
    """What the process tree `pids` listens on beyond loopback, one description each (an empty
    list passes); `ss` missing or failing is a violation too: the rule cannot be checked."""
    try:
        found = listeners()
    except (OSError, subprocess.CalledProcessError) as exc:
        return [f"`ss -ltnpH` failed, so the loopback rule cannot be checked: {exc}"]
    return [s.describe() for s in beyond_loopback(found, set(pids))]
