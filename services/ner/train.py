"""`python -m services.ner.train`: generate data → train the spaCy `ner` → evaluate → artifact.

The data is chat requests plus a share of report-style prose (`generator.py`, `formal.py`).

The ruler's patterns are added after `nlp.initialize()`, which would otherwise wipe them (W036).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from kit.artifacts import Artifact, sha256_bytes
from kit.datafiles import DataError
from kit.gate import write_holdout
from kit.profile import attach_profile
from kit.training import TrainingRun, add_training_args
from services.ner.data import EVAL_SET, FIRE_DEV, LABELS, Sentence, load_eval_set, load_fire
from services.ner.evaluation import evaluate
from services.ner.generator import generate
from services.ner.model import PIPELINE_DIR, NerModel
from services.ner.own_data import new_labels, user_sentences
from services.ner.patterns import blank_pipeline, ruler_patterns
from services.ner.promotion import as_row
from services.ner.report import write_report
from services.ner.schema import input_json_schema
from services.ner.settings import NerSettings

LIBRARIES = ("spacy", "numpy", "pydantic")
# The holdout comes from its own generator stream. The generator is prefix-stable (the first n
# sentences of a seed are the same for any count), so a holdout cut from the training stream's
# end would be training data of a version trained on more sentences, and the promotion gate
# would judge a candidate on rows production had learnt (kit/gate.py).
HOLDOUT_SEED_OFFSET = 100_000
PROFILE_SENTENCES = 1000  # training sentences in the reference profile


@dataclass(frozen=True)
class TrainConfig:
    n_train: int = 4000
    epochs: int = 12
    seed: int = 13
    formal_share: float = 0.25  # report-style sentences among the generated ones
    dropout: float = 0.2
    batch_size: int = 32


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


def train_pipeline(sentences: Sequence[Sentence], cfg: TrainConfig, run: TrainingRun) -> Language:
    """A blank English pipeline with our tokenizer, the ruler, and a `ner` trained on sentences.

    The seed fixes the weights' initialisation too, so a run can be repeated."""
    fix_random_seed(cfg.seed)
    nlp = blank_pipeline()
    examples = to_examples(nlp, sentences)
    optimizer = nlp.initialize(lambda: examples)
    add_ruler_patterns(nlp)
    rng = random.Random(cfg.seed)
    bar = run.bar(range(cfg.epochs), "training ner", unit="epoch")
    for _ in bar:
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        with nlp.select_pipes(enable=["ner"]):
            for batch in minibatch(examples, size=cfg.batch_size):
                nlp.update(batch, drop=cfg.dropout, sgd=optimizer, losses=losses)
        bar.set_postfix(loss=round(losses.get("ner", 0.0), 1))
    return nlp


def data_hash(sentences: Sequence[Sentence]) -> str:
    payload = json.dumps([[s.text, s.entities] for s in sentences], ensure_ascii=False)
    return sha256_bytes(payload.encode() + EVAL_SET.read_bytes())


def benchmarks(nlp: Language, holdout: Sequence[Sentence], fire_path: Path | None,
               labels: Sequence[str] = LABELS) -> dict:
    metrics = {
        "generated_holdout": evaluate(nlp, holdout, labels),
        "eval_set": evaluate(nlp, load_eval_set(), LABELS),
    }
    if fire_path and fire_path.is_file():
        metrics["fire_dev"] = evaluate(nlp, load_fire(fire_path), ("MONEY", "DATE"))
    return metrics


def train(cfg: TrainConfig, model_dir: Path, fire_path: Path | None = FIRE_DEV,
          progress: bool = True, own: tuple[str, list[Sentence], list[Sentence]] | None = None,
          ) -> Artifact:
    """Generate the data, train the pipeline, score it on every set and save the artifact.
    `own`: a user's (file name, train, holdout) sentences, learnt beside the generated ones
    (which keep the built-in labels), and scored on their own."""
    with TrainingRun("ner", model_dir, libraries=LIBRARIES, progress=progress) as run:
        train_set = generate(cfg.n_train, seed=cfg.seed, formal_share=cfg.formal_share)
        holdout = generate(cfg.n_train // 10, seed=cfg.seed + HOLDOUT_SEED_OFFSET,
                           formal_share=cfg.formal_share)
        data = (f"generated(n={len(train_set)}+{len(holdout)}, seed={cfg.seed}, "
                f"holdout seed={cfg.seed + HOLDOUT_SEED_OFFSET}, "
                f"formal_share={cfg.formal_share})")
        labels = list(LABELS)
        if own is not None:
            name, own_train, own_holdout = own
            labels += new_labels(own_train + own_holdout)
            run.say(f"{name}: {len(own_train)} training + {len(own_holdout)} holdout sentences; "
                    f"labels {', '.join(labels)}")
            # The user's sentences are few beside thousands of generated ones: repeated so an
            # epoch sees them about as often as a built-in label's sentences.
            repeat = max(1, len(train_set) // (4 * max(len(own_train), 1)))
            train_set = train_set + own_train * repeat
            holdout = holdout + own_holdout
            data = f"{name} ({len(own_train)}+{len(own_holdout)}, ×{repeat}) + {data}"
        sentences = train_set + holdout
        nlp = train_pipeline(train_set, cfg, run)
        run.say("evaluating on the generated holdout, the hand-written set and FIRE dev")
        metrics = benchmarks(nlp, holdout, fire_path, labels)
        if own is not None:
            metrics["own_holdout"] = evaluate(nlp, own[2], labels)
        nlp.to_disk(run.staging / PIPELINE_DIR)
        run.record(
            data=data,
            data_sha256=data_hash(sentences),
            parameters={"n_holdout": len(holdout), **asdict(cfg)},
            metrics=metrics,
            input_schema=input_json_schema(),
            labels=labels,
            # The rows the promotion gate scores this version and production on (kit/gate.py).
            holdout_file=write_holdout(run.staging, map(as_row, holdout),
                                       what="the generated holdout sentences and their spans"),
        )
        # The reference profile: training sentences through the pipeline being saved.
        attach_profile(run, NerModel(NerSettings()),
                       [{"text": s.text} for s in train_set[:PROFILE_SENTENCES]])
        write_report(run)
        return run.save()


def main(argv: Sequence[str] | None = None) -> Artifact:
    parser = argparse.ArgumentParser(description=__doc__)
    add_training_args(parser,
                      data_help="'generated': the seeded generator (default), or a JSONL file of "
                                "your own annotated sentences, learnt beside it "
                                "(docs/own-data.md)",
                      seed=TrainConfig.seed,
                      quick_help="small and fast (smoke runs): ≤ 1000 sentences, ≤ 4 epochs")
    parser.add_argument("--n-train", type=int, default=TrainConfig.n_train)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--formal-share", type=float, default=TrainConfig.formal_share,
                        help="share of report-style sentences in the generated data")
    parser.add_argument("--fire", type=Path, default=FIRE_DEV, help="FIRE dev JSON (benchmark)")
    args = parser.parse_args(argv)
    cfg = TrainConfig(n_train=args.n_train, epochs=args.epochs, seed=args.seed,
                      formal_share=args.formal_share)
    if args.quick:
        cfg = replace(cfg, n_train=min(cfg.n_train, 1000), epochs=min(cfg.epochs, 4))
    own = None
    if args.data != "generated":
        try:
            own = (Path(args.data).name, *user_sentences(Path(args.data)))
        except DataError as exc:
            print(f"ner train: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    artifact = train(cfg, args.model_dir, args.fire, progress=not args.no_progress, own=own)
    print(f"ner {artifact.version} -> {artifact.path}")
    for name, result in artifact.manifest["metrics"].items():
        micro = result["exact"]["micro"]
        print(f"  {name:18s} exact micro F1 {micro['f1']:.3f}  "
              f"(P {micro['precision']:.3f} R {micro['recall']:.3f}, n={micro['support']})")
    return artifact


if __name__ == "__main__":
    main()
