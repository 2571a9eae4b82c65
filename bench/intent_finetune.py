"""`python -m bench.intent_finetune`: would fine-tuning MiniLM lift the intent head on Banking77?

An experiment, not part of the product: it fine-tunes all-MiniLM-L6-v2 (mean pooling + a
classifier, cross-entropy) on Banking77's train.csv, then fits the intent service's Banking77
head as it was when this ran (linear SVM over [2·mean embedding | word 1–2 + char_wb 2–5 TF-IDF]
plus 5 × the best training-text cosine per label; the service has since added max pooling) on
the fine-tuned embeddings and scores test.csv.

    python -m bench.intent_finetune                       # frozen baseline + the default grid
    python -m bench.intent_finetune --grid '{"cos2e5": {"lr": 2e-5, "epochs": 5, "head": "cos"}}'

Needs torch, transformers, scikit-learn (the `train` extra) and `../shared/data/banking77/`.
Five epochs take ~30 s on a GPU and ~15 min on two CPU cores; results are in docs/intent.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from kit.settings import SHARED_DATA
from services.intent.export import minilm_dir, verify_weights

BANKING77 = SHARED_DATA / "banking77"
DEFAULT_GRID = {
    "cos-2e-5-x5": {"lr": 2e-5, "epochs": 5, "head": "cos"},
    "cos-5e-5-x5": {"lr": 5e-5, "epochs": 5, "head": "cos"},
    "linear-1e-4-x5": {"lr": 1e-4, "epochs": 5, "head": "linear"},
}


def read_csv(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


class Encoder:
    """MiniLM with mean pooling; `fine_tune` trains it with a classifier on top."""

    def __init__(self, device: str) -> None:
        import torch
        from tokenizers import Tokenizer
        from transformers import BertModel

        model_dir = minilm_dir()
        verify_weights(model_dir)
        self.torch = torch
        self.device = device
        self.model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False).to(device)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer.enable_truncation(256)

    def _pooled(self, texts: list[str]):
        torch = self.torch
        batch = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in batch], device=self.device)
        mask = torch.tensor([e.attention_mask for e in batch], device=self.device)
        hidden = self.model(input_ids=ids, attention_mask=mask)[0]
        weights = mask.unsqueeze(-1).float()
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def embed(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), 256):
                pooled = self._pooled(texts[start : start + 256])
                out.append(torch.nn.functional.normalize(pooled, dim=1).cpu())
        return torch.cat(out).numpy()

    def fine_tune(self, texts: list[str], labels: np.ndarray, classes: int, *, lr: float,
                  epochs: int, head: str, batch_size: int = 32, seed: int = 0,
                  scale: float = 30.0) -> None:
        """AdamW, 10% warm-up then linear decay; `head` "cos" = scaled cosine classifier."""
        torch = self.torch
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        dim = self.model.config.hidden_size
        weight = torch.nn.Parameter(torch.randn(classes, dim, device=self.device) * 0.02)
        bias = torch.nn.Parameter(torch.zeros(classes, device=self.device))
        optimiser = torch.optim.AdamW([{"params": self.model.parameters(), "lr": lr},
                                       {"params": [weight, bias], "lr": lr * 20}],
                                      weight_decay=0.01)
        steps = epochs * -(-len(texts) // batch_size)
        warm = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
        dropout = torch.nn.Dropout(0.1)
        target = torch.tensor(labels, device=self.device)
        for _ in range(epochs):
            self.model.train()
            order = rng.permutation(len(texts))
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                pooled = self._pooled([texts[i] for i in idx])
                if head == "cos":
                    logits = scale * torch.nn.functional.normalize(pooled, dim=1) @ \
                        torch.nn.functional.normalize(weight, dim=1).T
                else:
                    logits = dropout(pooled) @ weight.T + bias
                loss = torch.nn.functional.cross_entropy(logits, target[idx])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()


def service_head_accuracy(train_texts: list[str], train_emb: np.ndarray, train_y: np.ndarray,
                          test_texts: list[str], test_emb: np.ndarray, test_y: np.ndarray,
                          neighbour_weight: float = 5.0) -> float:
    """The intent service's Banking77 head (`minilm+tfidf-svm+1nn`), scored on test."""
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    from services.intent.train import fit_tfidf

    train_blocks, test_blocks = [sp.csr_matrix(train_emb * 2.0)], [sp.csr_matrix(test_emb * 2.0)]
    for block in ("word", "char"):
        vectorizer, _ = fit_tfidf(train_texts, block)
        train_blocks.append(vectorizer.transform(train_texts))
        test_blocks.append(vectorizer.transform(test_texts))
    svm = LinearSVC(C=0.5, max_iter=5000).fit(sp.hstack(train_blocks).tocsr(), train_y)
    margins = svm.decision_function(sp.hstack(test_blocks).tocsr())
    similarity = test_emb @ train_emb.T
    nearest = np.stack([similarity[:, train_y == c].max(1) for c in range(margins.shape[1])], 1)
    return float(((margins + neighbour_weight * nearest).argmax(1) == test_y).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=json.loads, default=DEFAULT_GRID,
                        help="JSON: name → {lr, epochs, head: cos|linear, seed}")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--every", type=int, default=1,
                        help="use every N-th train and test text (a quick smoke run)")
    args = parser.parse_args(argv)
    if not (BANKING77 / "train.csv").exists():
        print(f"skipped: no Banking77 at {BANKING77}", file=sys.stderr)
        return 0
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    train_texts, train_labels = (rows[:: args.every] for rows in read_csv(BANKING77 / "train.csv"))
    test_texts, test_labels = (rows[:: args.every] for rows in read_csv(BANKING77 / "test.csv"))
    classes = sorted(set(train_labels))
    train_y = np.array([classes.index(c) for c in train_labels])
    test_y = np.array([classes.index(c) for c in test_labels])
    runs = {"frozen": None, **args.grid}
    for name, config in runs.items():
        started = time.perf_counter()
        encoder = Encoder(device)
        if config is not None:
            encoder.fine_tune(train_texts, train_y, len(classes), **config)
        accuracy = service_head_accuracy(train_texts, encoder.embed(train_texts), train_y,
                                         test_texts, encoder.embed(test_texts), test_y)
        print(json.dumps({"run": name, "config": config, "device": device,
                          "test_accuracy": round(accuracy, 4),
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
