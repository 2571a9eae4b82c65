"""`make demo`: one realistic request per model and per fan-out route, through the gateway.

The requests are the table's examples (services.toml), sent with the project's own client
(`finfleet.client`); each answer is printed by the service's own `describe` function."""

from __future__ import annotations

import importlib
import os

import orjson
from rich.console import Console
from rich.panel import Panel

from finfleet.client import Answer, Client, FanoutAnswer, FinfleetError
from kit.catalog import load_catalog


def summarise(name: str, prediction: dict) -> str:
    """The service's own `describe` function from the table, or plain JSON."""
    row = next((r for r in load_catalog().services if r.name == name), None)
    if row is None or row.describe is None:
        return orjson.dumps(prediction).decode()
    module, _, function = row.describe.partition(":")
    return getattr(importlib.import_module(module), function)(prediction)


def describe(answer: Answer | FanoutAnswer) -> str:
    """The readable form of one answer: a model's, or a fan-out route's part by part."""
    if isinstance(answer, Answer):
        prediction = answer.raw.get("prediction") or answer.raw["predictions"][0]
        return (f"[dim]{answer.model} {answer.model_version}[/dim]\n"
                + summarise(answer.model, prediction))
    lines = []
    for part, value in answer.parts.items():
        if isinstance(value, FinfleetError):
            lines.append(f"[bold]{part}[/bold]: [red]{value.detail}[/red]")
        else:
            text = summarise(value.model, value.raw["prediction"]).replace("\n", "\n  ")
            lines.append(f"[bold]{part}[/bold]:\n  {text}")
    return "\n".join(lines)


def run_demo(url: str | None = None, raw: bool = False) -> int:
    base = url or os.environ.get("FINFLEET_URL", "http://127.0.0.1:8000")
    console = Console()
    failures = 0
    with Client(base, api_key=os.environ.get("FINFLEET_API_KEY"), timeout=30.0) as client:
        try:
            models = client.models()
        except FinfleetError as exc:
            console.print(f"[red]no gateway at {base} ({exc}); start the fleet with `make run`")
            return 1
        console.print(f"[bold]{base}[/bold] serves: " + ", ".join(
            f"{m['name']} {m['version'] or '—'}{'' if m['ready'] else ' (not ready)'}"
            for m in models))
        catalog = load_catalog()
        calls = [(f"/v1/{row.name}", row.example, client.predict, row.name)
                 for row in catalog.services]
        calls += [(route.path, route.example, client.fanout, route.name)
                  for route in catalog.fanout]
        for path, body, send, target in calls:
            try:
                answer = send(target, body)
            except FinfleetError as exc:
                failures += 1
                status, text = exc.status, f"[red]{exc.detail}[/red]"
                if raw and exc.body is not None:
                    text = _pretty(exc.body)
            else:
                status, text = 200, _pretty(answer.raw) if raw else describe(answer)
                failures += isinstance(answer, FanoutAnswer) and answer.partial
            colour = "green" if status == 200 else "red"
            console.print(Panel(f"[dim]{_request_line(body)}[/dim]\n{text}",
                                title=f"POST {path} → [{colour}]{status}[/{colour}]",
                                title_align="left"))
    return 1 if failures else 0


def _request_line(body: dict) -> str:
    text = orjson.dumps(body).decode()
    return text if len(text) <= 160 else text[:157] + "…"


def _pretty(payload) -> str:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
