"""`python -m bench.intent_pooling_cv`: which poolings of MiniLM should the intent head read?

The experiment behind the intent encoder's two outputs (docs/intent.md, "Pooling: mean and
max"). It pools MiniLM's token states several ways on Banking77's train.csv only (never
test.csv), then scores each mix by 5-fold cross-validation with the service's own Banking77
head code (`services.intent.train`): a linear SVM (C 0.5) over [2 · poolings | word 1–2 +
char_wb 2–5 TF-IDF], alone and with the nearest-neighbour memory at 5 × the mean of the
poolings' cosines (the served 2.5 × their sum, for two).

    python -m bench.intent_pooling_cv                     # the table in docs/intent.md
    python -m bench.intent_pooling_cv --every 25          # a quick smoke run

Needs torch, transformers, scikit-learn (the `train` extra) and `../shared/data/banking77/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from bench.intent_finetune import BANKING77, Encoder, read_csv
from services.intent.export import pool_tokens

# name → the poolings the head reads side by side.
MIXES = {
    "mean": ("mean",),
    "mean+max": ("mean", "max"),
    "mean+cls": ("mean", "cls"),
    "mean+layer5": ("mean", "layer5"),
    "mean+max+cls": ("mean", "max", "cls"),
    "mean+max+layer5": ("mean", "max", "layer5"),
}
NEIGHBOUR_WEIGHT = 5.0  # on the mean of the poolings' cosines


def poolings(texts: list[str], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Unit-length mean, max and CLS of the last layer, and the mean of layer 5, per text,
    pooled as the exported graph pools (`pool_tokens`)."""
    import torch

    encoder = Encoder("cpu")  # checks the weights' sha256
    encoder.model.eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths share padding
    out = {k: np.zeros((len(texts), encoder.model.config.hidden_size), np.float32)
           for k in ("mean", "max", "cls", "layer5")}
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = encoder.tokenizer.encode_batch([texts[i] for i in idx])
            ids = torch.tensor([e.ids for e in batch])
            mask = torch.tensor([e.attention_mask for e in batch])
            result = encoder.model(input_ids=ids, attention_mask=mask,
                                   output_hidden_states=True)
            last = result.last_hidden_state
            mean, peak = pool_tokens(last, mask)
            out["mean"][idx], out["max"][idx] = mean.numpy(), peak.numpy()
            out["cls"][idx] = torch.nn.functional.normalize(last[:, 0], dim=1).numpy()
            out["layer5"][idx] = pool_tokens(result.hidden_states[5], mask)[0].numpy()
    return out


def cross_validate(texts: list[str], labels: list[str], pooled: dict[str, np.ndarray],
                   mixes: dict, folds: int = 5) -> dict[str, dict[str, float]]:
    """Out-of-fold accuracy of the SVM alone and with the nearest-neighbour memory, per mix."""
    from services.intent.train import HeadCandidate, validation_probabilities, validation_splits

    label_names = sorted(set(labels))
    truth = np.array([label_names.index(label) for label in labels])
    splits = validation_splits(labels, folds)
    results = {}
    for name, parts in mixes.items():
        features = np.hstack([pooled[key] for key in parts])
        results[name] = {}
        for column, weight in (("svm", 0.0), ("svm+memory", NEIGHBOUR_WEIGHT / len(parts))):
            candidate = HeadCandidate(name, ("word", "char"), c=0.5, embedding_scale=2.0,
                                      classifier="svm", neighbour_weight=weight)
            probs = validation_probabilities(candidate, texts, features, labels, label_names,
                                             splits)
            results[name][column] = round(float((probs.argmax(1) == truth).mean()), 4)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1,
                        help="use every N-th train text (a quick smoke run)")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    if not (BANKING77 / "train.csv").exists():
        print(f"skipped: no Banking77 at {BANKING77}", file=sys.stderr)
        return 0
    started = time.perf_counter()
    texts, labels = (rows[:: args.every] for rows in read_csv(BANKING77 / "train.csv"))
    results = cross_validate(texts, labels, poolings(texts), MIXES, args.folds)
    for name, scores in results.items():
        print(json.dumps({"mix": name, **scores}), flush=True)
    print(f"{len(texts)} texts, {args.folds} folds, {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
