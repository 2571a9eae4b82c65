"""What "new data" means for intent: corrected labels. An outcome's label is the intent the
query really was (`POST /v1/models/intent/outcomes`); the query's text must be in the log, so
the service logs texts as sent (`INTENT_LOG_INPUTS=true`). With it off the log holds only a
text's length and hash, and those records are left out (all of them: a LogDataError saying
so). The text is not carried in the outcome: the outcome's label is the intent alone.

Written as the own-data `text,label` CSV (services/intent/data.py `user_dataset`). With the
original data: the shipped queries (services/intent/queries/) as rows of the same CSV; a
correction of a text the shipped queries also hold replaces their label, and a text corrected
twice keeps the newest label.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from kit.retrain import corrected_texts, text_key
from services.intent.data import read_queries

DATA_SUFFIX = ".csv"
ORIGINAL = "the shipped queries (services/intent/queries/)"


def log_dataset(labelled: list[dict[str, Any]], out: Path, original: bool) -> int:
    fixed = corrected_texts(labelled)
    rows = [(text, label) for text, label in fixed.values()]
    if original:
        rows += [(text, label) for label, texts in read_queries().items() for text in texts
                 if text_key(text) not in fixed]
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return len(rows)
