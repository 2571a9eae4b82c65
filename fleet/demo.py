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


def _money(x: float) -> str:
    return f"₹{x:,.0f}"


def summarise(model: str, prediction: dict) -> str:
    """One model's answer in a few readable lines."""
    if model == "intent":
        others = ", ".join(f"{a['label']} {a['confidence']:.2f}"
                           for a in prediction["alternatives"])
        return f"{prediction['label']} ({prediction['confidence']:.2f}); next: {others}"
    if model == "ner":
        return "\n".join(
            f"{e['label']:<8} {e['text']!r:<22} {orjson.dumps(e.get('value')).decode()}"
            for e in prediction["entities"]) or "(no entities)"
    if model == "spending":
        rows = [f"{m['month']}  {_money(m['yhat']):>10}  [{_money(m['lower'])} – "
                f"{_money(m['upper'])}]" for m in prediction["forecast"]]
        total = prediction["total"]
        return "\n".join([f"method {prediction['method']}", *rows,
                          f"total {_money(total['yhat'])} [{_money(total['lower'])} – "
                          f"{_money(total['upper'])}]"])
    if model == "anomaly":
        verdict = "ANOMALY" if prediction["is_anomaly"] else "normal"
        return f"score {prediction['score']:.3f} → {verdict}; " + "; ".join(prediction["reasons"])
    if model == "credit":
        reasons = "; ".join(f"{r['feature']}={r['value']} ({r['direction'].replace('_', ' ')})"
                            for r in prediction["reasons"])
        return (f"PD {prediction['probability_of_default']:.3f}, risk score "
                f"{prediction['risk_score']}, band {prediction['band']} → {prediction['decision']}"
                f"\nreasons: {reasons}")
    return orjson.dumps(prediction).decode()


FANOUT_PARTS = {"intent": "intent", "entities": "ner", "anomaly": "anomaly"}


def describe(path: str, body) -> str:
    """The readable form of a gateway answer: friendly model routes and fan-out routes."""
    if not isinstance(body, dict):
        return str(body)
    if "prediction" in body:
        name = body["model_name"]
        return f"[dim]{name} {body['model_version']}[/dim]\n" + summarise(name, body["prediction"])
    if path.startswith("/v1/analyze/"):
        lines = []
        for part, model in FANOUT_PARTS.items():
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
        calls = [(f"/v1/{name}", body) for name, body in EXAMPLES.items()]
        calls += list(FANOUT.items())
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
