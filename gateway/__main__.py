"""`python -m gateway` serves the gateway on GATEWAY_HOST:GATEWAY_PORT (default 8000)."""

from gateway.app import build_app
from gateway.settings import GatewaySettings
from kit.serve import serve


def main() -> None:
    settings = GatewaySettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
