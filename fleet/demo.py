"""`make demo`: one realistic request per model and per fan-out route, through the gateway.

The requests are the table's examples (services.toml); each answer is printed by the service's
own `describe` function."""

from __future__ import annotations

import importlib
import os

import httpx
import orjson
from rich.console import Console
from rich.panel import Panel

from kit.catalog import load_catalog


def gateway_headers() -> dict[str, str]:
    key = os.environ.get("FINFLEET_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def summarise(name: str, prediction: dict) -> str:
    """The service's own `describe` function from the table, or plain JSON."""
    row = next((r for r in load_catalog().services if r.name == name), None)
    if row is None or row.describe is None:
        return orjson.dumps(prediction).decode()
    module, _, function = row.describe.partition(":")
    return getattr(importlib.import_module(module), function)(prediction)


def describe(path: str, body) -> str:
    """The readable form of a gateway answer: friendly model routes and fan-out routes."""
    if not isinstance(body, dict):
        return str(body)
    if "prediction" in body:
        name = body["model_name"]
        return f"[dim]{name} {body['model_version']}[/dim]\n" + summarise(name, body["prediction"])
    route = next((r for r in load_catalog().fanout if r.path == path), None)
    if route is not None:
        lines = []
        for part, model in route.parts.items():
            if part not in body:
                continue
            answer = body[part]
            if answer.get("status") == 200:
                text = summarise(model, answer["prediction"]).replace("\n", "\n  ")
                lines.append(f"[bold]{part}[/bold]:\n  {text}")
            else:
                lines.append(f"[bold]{part}[/bold]: [red]{answer['error']['detail']}[/red]")
        return "\n".join(lines)
    return body.get("detail") or orjson.dumps(body).decode()


def run_demo(url: str | None = None, raw: bool = False) -> int:
    base = url or os.environ.get("FINFLEET_URL", "http://127.0.0.1:8000")
    console = Console()
    failures = 0
    with httpx.Client(base_url=base, timeout=30.0, headers=gateway_headers()) as client:
        try:
            models = client.get("/v1/models").json()["models"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            console.print(f"[red]no gateway at {base} ({exc}); start the fleet with `make run`")
            return 1
        console.print(f"[bold]{base}[/bold] serves: " + ", ".join(
            f"{m['name']} {m['version'] or '—'}{'' if m['ready'] else ' (not ready)'}"
            for m in models))
        catalog = load_catalog()
        calls = [(f"/v1/{row.name}", row.example) for row in catalog.services]
        calls += [(route.path, route.example) for route in catalog.fanout]
        for path, body in calls:
            response = client.post(path, json=body)
            failures += response.status_code >= 400
            colour = "green" if response.status_code < 400 else "red"
            answer = _safe_json(response)
            text = _pretty(answer) if raw else describe(path, answer)
            console.print(Panel(f"[dim]{_request_line(body)}[/dim]\n{text}",
                                title=f"POST {path} → [{colour}]{response.status_code}[/{colour}]",
                                title_align="left"))
    return 1 if failures else 0


def _request_line(body: dict) -> str:
    text = orjson.dumps(body).decode()
    return text if len(text) <= 160 else text[:157] + "…"


def _safe_json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text


def _pretty(payload) -> str:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
