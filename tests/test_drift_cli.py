"""`finfleet drift [show] NAME`: the verb is optional, the table says what the JSON says."""

from __future__ import annotations

import io

from rich.console import Console

from fleet import drift_cli

REPORT = {
    "model": "credit", "checked_at": 1.0, "status": "ok", "error": None,
    "thresholds": {"warning": 0.3, "critical": 0.5},
    "window": {"seconds": 3600.0, "max_records": 5000, "min_records": 100},
    "interval_seconds": 30.0,
    "versions": [
        {"version": "v2", "records": 400, "scored": 400, "served_by": {"production": 400},
         "since": 0.0, "until": 1.0, "score": 0.62, "level": "critical", "reason": None,
         "input_score": 0.33, "output_score": 0.62, "drifted": ["income"],
         "features": {"income": {"name": "income", "kind": "numeric", "score": 0.81, "n": 400,
                                 "psi": 1.07, "ks": 0.44, "chi2_p": None, "distance": None},
                      "age": {"name": "age", "kind": "numeric", "score": 0.0, "n": 400,
                              "psi": 0.0, "ks": 0.03, "chi2_p": None, "distance": None}},
         "history": [{"ts": 0.0, "score": 0.0}, {"ts": 1.0, "score": 0.62}]},
        {"version": "v1", "records": 20, "scored": 20, "served_by": {"shadow": 20},
         "since": 0.0, "until": 0.5, "score": None, "level": None,
         "reason": "not enough data: 20 of 100 records", "input_score": None,
         "output_score": None, "drifted": [], "features": {}, "history": []}]}


def test_the_table_shows_levels_features_and_reasons() -> None:
    out = io.StringIO()
    drift_cli.render(REPORT, Console(file=out, width=160, color_system=None), top=5)
    text = out.getvalue()
    assert "critical" in text and "0.620" in text and "income" in text and "1.070" in text
    assert "not enough data: 20 of 100 records" in text
    assert text.index("income") < text.index("age")  # by score
    assert drift_cli.sparkline([0.0, 0.62, 1.0]) == "▁▅█"


def test_show_is_the_default_verb(monkeypatch) -> None:
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    asked = []
    monkeypatch.setattr(drift_cli, "fetch",
                        lambda url, name, since, key: asked.append((url, name, since)) or REPORT)
    monkeypatch.setattr(drift_cli, "render", lambda report, console, top: None)
    assert drift_cli.main(["--url", "http://gw:1", "credit", "--since", "2h"]) == 0
    assert drift_cli.main(["show", "credit"]) == 0
    assert drift_cli.main(["credit", "--url", "http://gw:2"]) == 0  # options after the name too
    assert asked == [("http://gw:1", "credit", "2h"), ("http://127.0.0.1:8000", "credit", None),
                     ("http://gw:2", "credit", None)]


def test_a_gateway_that_does_not_answer_is_said(capsys) -> None:
    from kit.procs import free_port

    assert drift_cli.main(["--url", f"http://127.0.0.1:{free_port()}", "credit"]) == 2
    assert "did not answer" in capsys.readouterr().err
