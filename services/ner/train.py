"""`python -m services.ner.train`: generate data → train the spaCy `ner` → evaluate → artifact.

The data is chat requests plus a share of report-style prose (`generator.py`, `formal.py`).

The ruler's patterns are added after `nlp.initialize()`, which would otherwise wipe them (W036).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from tqdm import tqdm

from kit.artifacts import Artifact, ArtifactStore, library_versions, sha256_bytes
from kit.settings import REPO_ROOT
from services.ner.data import EVAL_SET, FIRE_DEV, LABELS, Sentence, load_eval_set, load_fire
from services.ner.evaluate import evaluate
from services.ner.generator import generate
from services.ner.patterns import blank_pipeline, ruler_patterns
from services.ner.report import write_report
from services.ner.schema import input_json_schema

PIPELINE_DIR = "pipeline"


def to_examples(nlp: Language, sentences: Sequence[Sentence]) -> list[Example]:
    """Examples whose spans fall on token edges; a misaligned sentence is dropped, not mangled."""
    examples = []
    for sentence in sentences:
        doc = nlp.make_doc(sentence.text)
        if all(doc.char_span(s, e, label) is not None for s, e, label in sentence.entities):
            examples.append(Example.from_dict(doc, {"entities": list(sentence.entities)}))
    return examples


def add_ruler_patterns(nlp: Language) -> None:
    nlp.get_pipe("entity_ruler").add_patterns(ruler_patterns())


def train_pipeline(
    sentences: Sequence[Sentence], *, epochs: int, seed: int = 13, dropout: float = 0.2,
    batch_size: int = 32, progress: bool = False,
) -> Language:
    """A blank English pipeline with our tokenizer, the ruler, and a `ner` trained on sentences.

    The seed fixes the weights' initialisation too, so a run can be repeated."""
    fix_random_seed(seed)
    nlp = blank_pipeline()
    examples = to_examples(nlp, sentences)
    optimizer = nlp.initialize(lambda: examples)
    add_ruler_patterns(nlp)
    rng = random.Random(seed)
    bar = tqdm(range(epochs), desc="training ner", disable=not progress, unit="epoch")
    for _ in bar:
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        with nlp.select_pipes(enable=["ner"]):
            for batch in minibatch(examples, size=batch_size):
                nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        bar.set_postfix(loss=round(losses.get("ner", 0.0), 1))
    return nlp


def data_hash(sentences: Sequence[Sentence]) -> str:
    payload = json.dumps([[s.text, s.entities] for s in sentences], ensure_ascii=False)
    return sha256_bytes(payload.encode() + EVAL_SET.read_bytes())


def benchmarks(nlp: Language, holdout: Sequence[Sentence], fire_path: Path | None) -> dict:
    metrics = {
        "generated_holdout": evaluate(nlp, holdout, LABELS),
        "eval_set": evaluate(nlp, load_eval_set(), LABELS),
    }
    if fire_path and fire_path.is_file():
        metrics["fire_dev"] = evaluate(nlp, load_fire(fire_path), ("MONEY", "DATE"))
    return metrics


def save_artifact(
    nlp: Language, model_dir: Path, metrics: dict, parameters: dict, data_sha256: str
) -> Artifact:
    staging = Path(tempfile.mkdtemp(prefix="ner-"))
    try:
        nlp.to_disk(staging / PIPELINE_DIR)
        manifest = {
            "data_sha256": data_sha256, "parameters": parameters, "metrics": metrics,
            "labels": list(LABELS), "input_schema": input_json_schema(),
            "libraries": library_versions("spacy", "numpy", "pydantic"),
        }
        write_report(staging, manifest)
        return ArtifactStore(model_dir, "ner").save(staging, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> Artifact:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--formal-share", type=float, default=0.25,
                        help="share of report-style sentences in the generated data")
    parser.add_argument("--fire", type=Path, default=FIRE_DEV, help="FIRE dev JSON (benchmark)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sentences = generate(args.n_train + args.n_train // 10, seed=args.seed,
                         formal_share=args.formal_share)
    train, holdout = sentences[: args.n_train], sentences[args.n_train :]
    nlp = train_pipeline(train, epochs=args.epochs, seed=args.seed, progress=True)
    print("evaluating on the generated holdout, the hand-written set and FIRE dev ...")
    metrics = benchmarks(nlp, holdout, args.fire)
    parameters = {"n_train": len(train), "n_holdout": len(holdout), "epochs": args.epochs,
                  "seed": args.seed, "formal_share": args.formal_share, "dropout": 0.2,
                  "batch_size": 32,
                  "train_seconds": round(time.perf_counter() - started, 1)}
    artifact = save_artifact(nlp, args.model_dir, metrics, parameters, data_hash(sentences))
    for name, result in metrics.items():
        micro = result["exact"]["micro"]
        print(f"{name:18s} exact micro F1 {micro['f1']:.3f}  "
              f"(P {micro['precision']:.3f} R {micro['recall']:.3f}, n={micro['support']})")
    print(f"saved {artifact.path}")
    return artifact


if __name__ == "__main__":
    main()
