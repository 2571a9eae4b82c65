"""Container HEALTHCHECK: GET a probe path on the port named by an env var; exit 0 only on 200.

Images have no curl (smaller, fewer CVEs), so the probe uses the standard library.
Usage: python healthcheck.py PORT_ENV_VAR PATH   (e.g. CREDIT_PORT /health/live)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    port_variable, path = argv
    url = f"http://127.0.0.1:{os.environ[port_variable]}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
