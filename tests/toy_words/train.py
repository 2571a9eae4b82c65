"""`python -m tests.toy_words.train --model-dir DIR`: words in 2+ sentences are stop words."""

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from kit import ArtifactStore

SENTENCES = ["the rent is due on the first", "paid the bill in the morning", "a coffee and a bun"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    counts = Counter(word for sentence in SENTENCES for word in set(sentence.split()))
    staging = Path(tempfile.mkdtemp())
    stop_words = sorted(word for word, n in counts.items() if n > 1)
    (staging / "stop_words.json").write_text(json.dumps(stop_words))
    artifact = ArtifactStore(args.model_dir, "words").save(staging, {"data_sha256": "toy"})
    print(f"saved {artifact.path}")


if __name__ == "__main__":
    main()
