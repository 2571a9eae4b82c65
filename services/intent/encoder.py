"""The serving-time sentence encoder: a tokenizer and an ONNX graph, no torch.

The exported graph already pools and L2-normalises, from onnxruntime and tokenizers alone.
`outputs` gives each pooling by name (`embedding` is what sentence-transformers'
`all-MiniLM-L6-v2` returns); `encode` puts them side by side as the head's input, so an export
with one output (before max pooling was added) still serves.
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
    """Texts → float32 features (unit-length poolings side by side), one ONNX Runtime call per
    batch."""

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
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.dimension = sum(int(output.shape[-1]) for output in self.session.get_outputs())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pooled = self._run(texts)
        return pooled[0] if len(pooled) == 1 else np.hstack(pooled)

    def outputs(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each pooling by its graph output name."""
        return dict(zip(self.output_names, self._run(texts), strict=True))

    def _run(self, texts: list[str]) -> list[np.ndarray]:
        if len(texts) == 1:
            batch = [self.tokenizer.encode(texts[0])]
        else:
            batch = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})
