"""`python -m monitor` serves the drift monitor on MONITOR_HOST:MONITOR_PORT (default 8095)."""

from kit.serve import serve
from monitor.app import build_app
from monitor.settings import MonitorSettings


def main() -> None:
    settings = MonitorSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
