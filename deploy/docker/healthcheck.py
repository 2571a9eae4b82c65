"""Container HEALTHCHECK: GET a probe path on the container's own port; exit 0 only on 200.

Images have no curl (smaller, fewer CVEs), so the probe uses the standard library.
Usage: python healthcheck.py PATH              (model image: the port of FINFLEET_SERVICE)
       python healthcheck.py PORT_ENV_VAR PATH  (e.g. GATEWAY_PORT /health/live)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def port(port_variable: str | None) -> str:
    if port_variable is not None:
        return os.environ[port_variable]
    from start import service_environment, service_row  # beside this file in the model image

    row = service_row(dict(os.environ))
    return service_environment(row, dict(os.environ))[f"{row.env_prefix}PORT"]


def main(argv: list[str]) -> int:
    *port_variable, path = argv
    url = f"http://127.0.0.1:{port(port_variable[0] if port_variable else None)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
