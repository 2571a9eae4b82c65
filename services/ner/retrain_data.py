"""What "new data" means for NER: corrected spans. An outcome's label is the list of the
text's true entities (`[{"start", "end", "label"}]`, `POST /v1/models/ner/outcomes`); as for
intent the text must be in the log (`NER_LOG_INPUTS=true`), and records without it are left
out (all of them: a LogDataError).

Written as the own-data JSONL (services/ner/own_data.py): `{"text", "entities": [[start, end,
label], ...]}` a line, a text corrected twice keeping its newest spans; a record the own-data
check refuses (spans off word edges, overlapping) is left out and counted. The original data:
NER's trainer always learns the generated sentences beside the file (so the built-in labels
keep working), with or without `--log-only`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit.datafiles import Problems
from kit.retrain import LogDataError, corrected_texts
from services.ner.own_data import _sentence
from services.ner.patterns import blank_pipeline

DATA_SUFFIX = ".jsonl"
ORIGINAL = "the generated sentences, which NER's trainer always adds"


def log_dataset(labelled: list[dict[str, Any]], out: Path, original: bool) -> int:
    fixed = corrected_texts(labelled)
    tokenizer = blank_pipeline()
    lines = []
    for text, spans in fixed.values():
        raw = json.dumps({"text": text, "entities": [
            [s["start"], s["end"], s["label"]] for s in spans]}, ensure_ascii=False)
        if _sentence(raw, len(lines) + 1, Problems(out), tokenizer) is not None:
            lines.append(raw)
    if not lines:
        raise LogDataError(f"none of the {len(fixed)} corrected texts has spans the own-data "
                           "check accepts (on word edges, inside the text, not overlapping)")
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
