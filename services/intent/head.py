"""The classifier head at serving time: a linear layer over the embedding and TF-IDF blocks.

Stored as plain arrays (`head.npz`) plus `head.json` (labels, blocks, temperature, threshold),
so applying it needs numpy only. Optionally a nearest-neighbour memory adds, per label, the
cosine of the closest training embedding (a non-linear boost the linear layer cannot express).
Scores go through a softmax; a top probability under the out-of-scope threshold is answered
`out_of_scope`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from services.intent.features import TfidfFeatures

HEAD_JSON = "head.json"
HEAD_NPZ = "head.npz"


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class NearestNeighbours:
    """Training embeddings grouped by label → per label, the best cosine to a query."""

    def __init__(self, embeddings: np.ndarray, label_ids: np.ndarray, n_labels: int) -> None:
        order = np.argsort(label_ids, kind="stable")
        self.embeddings = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        self.label_ids = np.asarray(label_ids)[order].astype(np.int64)
        counts = np.bincount(self.label_ids, minlength=n_labels)
        self.present = counts > 0
        self.starts = (np.cumsum(counts) - counts)[self.present]

    def best_cosine(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, labels) best cosine per label; 0 for a label without training texts."""
        out = np.zeros((len(embeddings), len(self.present)), dtype=np.float32)
        if len(embeddings):
            similarity = embeddings @ self.embeddings.T
            out[:, self.present] = np.maximum.reduceat(similarity, self.starts, axis=1)
        return out


class LinearHead:
    """scores = embedding · W_emb + Σ tfidf_k · W_k + b (+ w · best neighbour cosine per label);
    probabilities = softmax(t · scores)."""

    def __init__(self, labels: list[str], embedding_weights: np.ndarray, bias: np.ndarray,
                 tfidf: dict[str, tuple[TfidfFeatures, np.ndarray]] | None = None,
                 temperature: float = 1.0, threshold: float = 0.0,
                 out_of_scope: str | None = None, neighbours: NearestNeighbours | None = None,
                 neighbour_weight: float = 0.0) -> None:
        self.labels = list(labels)
        self.embedding_weights = np.asarray(embedding_weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.tfidf = tfidf or {}
        self.temperature = float(temperature)
        self.threshold = float(threshold)
        self.out_of_scope = out_of_scope
        self.neighbours = neighbours
        self.neighbour_weight = float(neighbour_weight)

    def probabilities(self, embeddings: np.ndarray, texts: list[str]) -> np.ndarray:
        scores = embeddings @ self.embedding_weights + self.bias
        for features, weights in self.tfidf.values():
            for i, text in enumerate(texts):
                row = features.row(text)
                if row.indices.size:
                    scores[i] += row.values.astype(np.float32) @ weights[row.indices]
        if self.neighbours is not None and self.neighbour_weight:
            scores += self.neighbour_weight * self.neighbours.best_cosine(embeddings)
        return softmax(self.temperature * scores)

    def decide(self, probabilities: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Labels and confidences after the out-of-scope threshold.

        A rejected row's confidence is the probability mass not on its best intent.
        """
        best = probabilities.argmax(axis=1)
        top = probabilities[np.arange(len(best)), best]
        labels = [self.labels[i] for i in best]
        confidence = top.astype(np.float64)
        if self.out_of_scope is not None:
            for i, p in enumerate(top):
                if p < self.threshold and labels[i] != self.out_of_scope:
                    labels[i] = self.out_of_scope
                    confidence[i] = 1.0 - p
        return labels, confidence

    def save(self, directory: Path, extra: dict | None = None) -> None:
        arrays = {"embedding_weights": self.embedding_weights, "bias": self.bias}
        blocks = {}
        for name, (features, weights) in self.tfidf.items():
            arrays[f"{name}_weights"] = weights.astype(np.float32)
            arrays[f"{name}_idf"] = features.idf
            (directory / f"vocabulary_{name}.json").write_text(
                json.dumps(features.vocabulary, ensure_ascii=False)
            )
            blocks[name] = features.config()
        if self.neighbours is not None:
            arrays["neighbour_embeddings"] = self.neighbours.embeddings
            arrays["neighbour_label_ids"] = self.neighbours.label_ids
        np.savez(directory / HEAD_NPZ, **arrays)
        config = {"labels": self.labels, "temperature": self.temperature,
                  "threshold": self.threshold, "out_of_scope": self.out_of_scope,
                  "embedding_dim": int(self.embedding_weights.shape[0]), "tfidf": blocks,
                  "neighbour_weight": self.neighbour_weight if self.neighbours else 0.0,
                  **(extra or {})}
        (directory / HEAD_JSON).write_text(json.dumps(config, indent=2))

    @classmethod
    def load(cls, directory: Path) -> LinearHead:
        config = json.loads((directory / HEAD_JSON).read_text())
        with np.load(directory / HEAD_NPZ, allow_pickle=False) as arrays:
            tfidf = {}
            for name, block in config["tfidf"].items():
                vocabulary = json.loads((directory / f"vocabulary_{name}.json").read_text())
                features = TfidfFeatures(block["analyzer"], tuple(block["ngram_range"]),
                                         vocabulary, arrays[f"{name}_idf"], block["sublinear_tf"])
                tfidf[name] = (features, arrays[f"{name}_weights"])
            neighbours = None
            if "neighbour_embeddings" in arrays.files:
                neighbours = NearestNeighbours(arrays["neighbour_embeddings"],
                                               arrays["neighbour_label_ids"], len(config["labels"]))
            return cls(config["labels"], arrays["embedding_weights"], arrays["bias"], tfidf,
                       config["temperature"], config["threshold"], config["out_of_scope"],
                       neighbours, config.get("neighbour_weight", 0.0))
