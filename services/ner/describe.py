"""What `make demo` prints for a NER answer: one line per entity with its value."""

import orjson


def summarise(prediction: dict) -> str:
    return "\n".join(
        f"{e['label']:<8} {e['text']!r:<22} {orjson.dumps(e.get('value')).decode()}"
        for e in prediction["entities"]) or "(no entities)"
