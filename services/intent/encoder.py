"""The serving-time sentence encoder: a tokenizer and an ONNX graph, no torch.

The exported graph already mean-pools and L2-normalises, so `encode` returns what
sentence-transformers' `all-MiniLM-L6-v2` returns, from onnxruntime and tokenizers alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_TOKENS = 256


def load_tokenizer(path: Path) -> Tokenizer:
    """The package's tokenizer.json pads every input to 128: pad per batch, truncate at 256."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


class OnnxSentenceEncoder:
    """Texts → unit-length float32 embeddings, one ONNX Runtime call per batch."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = load_tokenizer(tokenizer_path)
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            batch = [self.tokenizer.encode(texts[0])]
        else:
            batch = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        (embeddings,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return embeddings
