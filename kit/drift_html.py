"""Evidently's side of `finfleet drift report`: run inside `.venv-evidently/`, never imported.

    .venv-evidently/bin/python -I kit/drift_html.py SPEC.json

`-I` keeps this folder off sys.path (kit/http.py would shadow the standard library's `http`).
SPEC (written by kit/drift_report.py in the project's venv) names the current rows and the
reference sample (JSON lines), the columns by kind, the HTML to write, a header to put above
Evidently's page and where to write Evidently's own dataset-drift numbers. Only Evidently and
pandas are used here: the project's packages are not installed in this venv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently import __version__ as evidently_version
from evidently.presets import DataDriftPreset


def frame(path: str, columns: list[str]) -> pd.DataFrame:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=columns)


def drifted(method: str, value: float, threshold: float) -> bool:
    """Evidently's rule: a p-value test drifts below its threshold, a distance at or above."""
    return value < threshold if "p_value" in method else value >= threshold


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    kinds = spec["columns"]
    names = kinds["numerical"] + kinds["categorical"]
    definition = DataDefinition(numerical_columns=kinds["numerical"],
                                categorical_columns=kinds["categorical"])
    current = frame(spec["current"], names)
    reference = frame(spec["reference"], names)
    for column in kinds["categorical"]:  # strings, None kept missing (not the text "None")
        current[column] = current[column].astype("object")
        reference[column] = reference[column].astype("object")
    run = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                          Dataset.from_pandas(reference,
                                                              data_definition=definition))
    page = run.get_html_str(as_iframe=False)
    page = page.replace("<body>", "<body>" + spec.get("banner", ""), 1)
    Path(spec["out"]).write_text(page)
    summary = {"evidently": evidently_version, "columns": len(names),
               "reference_rows": len(reference), "current_rows": len(current), "per_column": {}}
    for metric in run.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            summary["drifted_columns"] = int(metric["value"]["count"])
            summary["share"] = float(metric["value"]["share"])
            summary["drift_share"] = float(config["drift_share"])
        elif config["type"].endswith("ValueDrift"):
            value = float(metric["value"])
            summary["per_column"][config["column"]] = {
                "method": config["method"], "value": round(value, 6),
                "threshold": config["threshold"],
                "drifted": drifted(config["method"], value, float(config["threshold"]))}
    Path(spec["summary"]).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
