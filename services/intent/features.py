"""TF-IDF features without scikit-learn: sklearn's analyzers re-implemented, applied sparsely.

Training fits `TfidfVectorizer` and stores its vocabulary and idf; serving rebuilds the same
numbers here (tests check parity with sklearn), so the head runs on numpy alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """sklearn's `analyzer="word"` with the default token pattern, lower-cased."""
    tokens = _WORD_TOKEN.findall(text.lower())
    out = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """sklearn's `analyzer="char_wb"`: character n-grams inside space-padded words."""
    out = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(min_n, max_n + 1):
            offset = 0
            out.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                out.append(padded[offset : offset + n])
            if offset == 0:
                break
    return out


ANALYZERS = {"word": word_ngrams, "char_wb": char_wb_ngrams}


@dataclass
class SparseRow:
    indices: np.ndarray
    values: np.ndarray


class TfidfFeatures:
    """One fitted vectorizer: vocabulary + idf → l2-normalised, sublinear tf-idf rows."""

    def __init__(self, analyzer: str, ngram_range: tuple[int, int], vocabulary: dict[str, int],
                 idf: np.ndarray, sublinear_tf: bool = True) -> None:
        self.analyzer = analyzer
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.vocabulary = vocabulary
        self.idf = np.asarray(idf, dtype=np.float64)
        self.sublinear_tf = sublinear_tf
        self._analyze = ANALYZERS[analyzer]

    def __len__(self) -> int:
        return len(self.vocabulary)

    def row(self, text: str) -> SparseRow:
        counts = Counter(
            self.vocabulary[g]
            for g in self._analyze(text, *self.ngram_range)
            if g in self.vocabulary
        )
        if not counts:
            return SparseRow(np.zeros(0, np.int64), np.zeros(0, np.float64))
        indices = np.fromiter(counts.keys(), np.int64, len(counts))
        tf = np.fromiter(counts.values(), np.float64, len(counts))
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        values = tf * self.idf[indices]
        return SparseRow(indices, values / math.sqrt(float(values @ values)))

    def config(self) -> dict:
        return {"analyzer": self.analyzer, "ngram_range": list(self.ngram_range),
                "sublinear_tf": self.sublinear_tf, "size": len(self)}
