"""`make demo`: one realistic request per model and per fan-out route, through the gateway."""

from __future__ import annotations

import os
from datetime import date

import httpx
import orjson
from rich.console import Console
from rich.panel import Panel


def _monthly_history(months: int = 18) -> list[dict]:
    """A household's monthly totals with a festive-season bump, ending last month."""
    year, month = date.today().year, date.today().month
    rows = []
    for back in range(months, 0, -1):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        bump = 18_000 if m + 1 in (10, 11) else 0
        rows.append({"month": f"{y}-{m + 1:02d}", "amount": 42_000 + 600 * (months - back) + bump})
    return rows


EXAMPLES: dict[str, dict] = {
    "intent": {"text": "how much did I spend on swiggy last month?"},
    "ner": {"text": "Paid ₹2,450 to Swiggy from my HDFC credit card yesterday"},
    "spending": {"history": _monthly_history(), "horizon_months": 3},
    "anomaly": {"user_id": "demo-user", "transaction": {
        "timestamp": "2026-11-20T02:14:00", "amount": 48_000, "merchant": "unknown-electronics",
        "category": "shopping", "channel": "online"}},
    "credit": {"age": 35, "income": 85_000, "loan_amount": 500_000, "tenure_months": 36,
               "existing_emis": 5_000, "credit_history_months": 60, "delinquencies": 0,
               "utilisation": 0.3, "employment_type": "salaried"},
}
FANOUT: dict[str, dict] = {
    "/v1/analyze/message": {"text": "Why was ₹12,000 debited from my SBI account on 3 March?"},
    "/v1/analyze/transaction": {"user_id": "demo-user", "transaction": {
        "timestamp": "2026-11-20T13:05:00", "amount": 899, "merchant": "Netflix",
        "category": "entertainment", "channel": "card",
        "description": "NETFLIX subscription ₹899 on HDFC credit card"}},
}


def gateway_headers() -> dict[str, str]:
    key = os.environ.get("FINFLEET_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def run_demo(url: str | None = None) -> int:
    base = url or os.environ.get("FINFLEET_URL", "http://127.0.0.1:8000")
    console = Console()
    failures = 0
    with httpx.Client(base_url=base, timeout=30.0, headers=gateway_headers()) as client:
        try:
            models = client.get("/v1/models").json()
        except httpx.HTTPError as exc:
            console.print(f"[red]no gateway at {base} ({exc}); start the fleet with `make run`")
            return 1
        console.print(Panel(_pretty(models), title=f"GET {base}/v1/models"))
        calls = [(f"/v1/{name}", body) for name, body in EXAMPLES.items()]
        calls += list(FANOUT.items())
        for path, body in calls:
            response = client.post(path, json=body)
            failures += response.status_code >= 400
            colour = "green" if response.status_code < 400 else "red"
            console.print(Panel(
                f"[dim]{orjson.dumps(body).decode()}[/dim]\n\n{_pretty(_safe_json(response))}",
                title=f"POST {path} → [{colour}]{response.status_code}[/{colour}]"))
    return 1 if failures else 0


def _safe_json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text


def _pretty(payload) -> str:
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
