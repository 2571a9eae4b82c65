"""`python -m bench.intent_pooling_cv`: which poolings of MiniLM should the intent head read?

The experiment behind the intent encoder's two outputs (docs/intent.md, "Pooling: mean and
max"). It pools MiniLM's token states several ways on Banking77's train.csv only (never
test.csv), then scores each mix by 5-fold cross-validation with the service's Banking77 head: a
linear SVM (C 0.5) over [2 · poolings | word 1–2 + char_wb 2–5 TF-IDF], plus 5 × the best
training-text cosine per label over the same poolings (L2-normalised together; for two unit
poolings that is the service's 2.5 × the sum of their cosines).

    python -m bench.intent_pooling_cv                     # the table in docs/intent.md, ~6 min
    python -m bench.intent_pooling_cv --every 25          # a quick smoke run

Needs torch, transformers, scikit-learn (the `train` extra) and `../shared/data/banking77/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from bench.intent_finetune import BANKING77, read_csv
from services.intent.export import minilm_dir, verify_weights

# name → the poolings it puts side by side, each with its scale (the service uses 2).
MIXES = {
    "mean": (("mean", 2),),
    "mean+max": (("mean", 2), ("max", 2)),
    "mean+cls": (("mean", 2), ("cls", 2)),
    "mean+layer5": (("mean", 2), ("layer5", 2)),
    "mean+max+cls": (("mean", 2), ("max", 2), ("cls", 2)),
    "mean+max+layer5": (("mean", 2), ("max", 2), ("layer5", 2)),
    "mean×2+max×3": (("mean", 2), ("max", 3)),
}
NEIGHBOUR_WEIGHT = 5.0


def poolings(texts: list[str], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Unit-length mean, max and CLS of the last layer, and the mean of layer 5, per text."""
    import torch
    from transformers import AutoTokenizer, BertModel

    model_dir = minilm_dir()
    verify_weights(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
    order = np.argsort([len(t) for t in texts])  # similar lengths share padding
    out = {k: np.zeros((len(texts), model.config.hidden_size), np.float32)
           for k in ("mean", "max", "cls", "layer5")}
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                              max_length=256, return_tensors="pt")
            result = model(**batch, output_hidden_states=True)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            last = result.last_hidden_state
            out["mean"][idx] = ((last * mask).sum(1) / mask.sum(1)).numpy()
            out["max"][idx] = (last + (mask - 1.0) * 1e4).amax(1).numpy()
            out["cls"][idx] = last[:, 0].numpy()
            layer5 = result.hidden_states[5]
            out["layer5"][idx] = ((layer5 * mask).sum(1) / mask.sum(1)).numpy()
    return {k: v / np.linalg.norm(v, axis=1, keepdims=True) for k, v in out.items()}


def cross_validate(texts: list[str], y: np.ndarray, pooled: dict[str, np.ndarray],
                   mixes: dict, folds: int = 5) -> dict[str, dict[str, float]]:
    """Out-of-fold accuracy of the SVM alone and with the nearest-neighbour memory, per mix."""
    import scipy.sparse as sp
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    from services.intent.head import NearestNeighbours
    from services.intent.train import fit_tfidf

    classes = int(y.max()) + 1
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=13).split(texts, y))
    tfidf = []
    for fit, val in splits:
        fit_texts, val_texts = [texts[i] for i in fit], [texts[i] for i in val]
        vectorizers = [fit_tfidf(fit_texts, block)[0] for block in ("word", "char")]
        tfidf.append((sp.hstack([v.transform(fit_texts) for v in vectorizers]).tocsr(),
                      sp.hstack([v.transform(val_texts) for v in vectorizers]).tocsr()))
    results = {}
    for name, parts in mixes.items():
        features = np.hstack([pooled[key] * scale for key, scale in parts])
        unit = features / np.linalg.norm(features, axis=1, keepdims=True)
        margins, memory = np.zeros((len(y), classes)), np.zeros((len(y), classes))
        for (fit, val), (x_fit, x_val) in zip(splits, tfidf, strict=True):
            svm = LinearSVC(C=0.5, max_iter=5000).fit(
                sp.hstack([sp.csr_matrix(features[fit]), x_fit]).tocsr(), y[fit])
            margins[val] = -1e4  # a label with no text in this fold's fit never wins
            margins[np.ix_(val, svm.classes_)] = svm.decision_function(
                sp.hstack([sp.csr_matrix(features[val]), x_val]).tocsr())
            memory[val] = NearestNeighbours(unit[fit], y[fit], classes).best_cosine(unit[val])
        results[name] = {
            "svm": round(float((margins.argmax(1) == y).mean()), 4),
            "svm+memory": round(float(((margins + NEIGHBOUR_WEIGHT * memory).argmax(1) == y)
                                      .mean()), 4),
        }
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
    classes = sorted(set(labels))
    y = np.array([classes.index(c) for c in labels])
    results = cross_validate(texts, y, poolings(texts), MIXES, args.folds)
    for name, scores in results.items():
        print(json.dumps({"mix": name, **scores}), flush=True)
    print(f"{len(texts)} texts, {args.folds} folds, {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
