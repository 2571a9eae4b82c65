"""`python -m gateway.nginx render [--out FILE] [--site-only]`: print or write the nginx config."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.nginx.render import render_from_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.nginx")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render the config from GATEWAY_* settings")
    render.add_argument("--out", type=Path, help="write here instead of stdout")
    render.add_argument("--site-only", action="store_true",
                        help="only the http-level block, for conf.d/ of an existing nginx")
    args = parser.parse_args()
    text = render_from_settings(site_only=args.site_only)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
