"""The ONNX graph and tokenizer used at serving time against the training-time encoder."""

import numpy as np
import pytest

from services.intent.encoder import MAX_TOKENS, OnnxSentenceEncoder, load_tokenizer
from services.intent.export import (
    ENCODER_ONNX,
    MINILM_SAFETENSORS_SHA256,
    TOKENIZER_JSON,
    minilm_dir,
    verify_weights,
)

SENTENCES = [
    "What's my balance?",
    "Block my debit card immediately, I lost my wallet in the Mumbai local",
    "80C ke under kitna tax bachega agar PPF mein 1.5 lakh daalu?",
    "hi",
]


def test_packaged_weights_are_the_upstream_release():
    assert verify_weights(minilm_dir()) == MINILM_SAFETENSORS_SHA256


def test_verify_weights_refuses_other_files(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not minilm")
    with pytest.raises(RuntimeError, match="expected"):
        verify_weights(tmp_path)


def test_onnx_matches_sentence_transformers(encoder_dir):
    pytest.importorskip("sentence_transformers")
    from services.intent.export import reference_embeddings

    onnx = OnnxSentenceEncoder(encoder_dir / ENCODER_ONNX, encoder_dir / TOKENIZER_JSON)
    got, want = onnx.outputs(SENTENCES)["embedding"], reference_embeddings(SENTENCES)
    assert got.shape == want.shape == (len(SENTENCES), 384)
    cosine = (got * want).sum(axis=1)
    assert cosine.min() > 0.9999, cosine
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_onnx_max_pooling_matches_torch(encoder_dir):
    """The max pooling has no sentence-transformers reference: check it against torch itself."""
    torch = pytest.importorskip("torch")
    from services.intent.encoder import load_tokenizer
    from services.intent.export import pooled_module

    tokenizer = load_tokenizer(encoder_dir / TOKENIZER_JSON)
    batch = tokenizer.encode_batch(SENTENCES)  # padded: padding must not win the max
    ids = torch.tensor([e.ids for e in batch])
    mask = torch.tensor([e.attention_mask for e in batch])
    with torch.no_grad():
        _, want = pooled_module(minilm_dir())(ids, mask)
    onnx = OnnxSentenceEncoder(encoder_dir / ENCODER_ONNX, encoder_dir / TOKENIZER_JSON)
    got = onnx.outputs(SENTENCES)["max_embedding"]
    assert (got * want.numpy()).sum(axis=1).min() > 0.9999


def test_features_are_both_poolings_side_by_side(encoder_dir):
    onnx = OnnxSentenceEncoder(encoder_dir / ENCODER_ONNX, encoder_dir / TOKENIZER_JSON)
    outputs, features = onnx.outputs(SENTENCES), onnx.encode(SENTENCES)
    assert onnx.output_names == ["embedding", "max_embedding"]
    assert features.shape == (len(SENTENCES), onnx.dimension) == (len(SENTENCES), 768)
    np.testing.assert_array_equal(features[:, :384], outputs["embedding"])
    np.testing.assert_array_equal(features[:, 384:], outputs["max_embedding"])


def test_tokenizer_pads_per_batch_and_truncates_at_256(encoder_dir):
    tokenizer = load_tokenizer(encoder_dir / TOKENIZER_JSON)
    short = tokenizer.encode_batch(["hi", "pay my bill"])
    assert len(short[0].ids) == len(short[1].ids) < 10
    assert short[0].attention_mask.count(0) > 0
    long = tokenizer.encode("balance " * 400)
    assert len(long.ids) == MAX_TOKENS


def test_a_batch_embeds_each_text_as_it_would_alone(encoder_dir):
    onnx = OnnxSentenceEncoder(encoder_dir / ENCODER_ONNX, encoder_dir / TOKENIZER_JSON)
    batch = onnx.encode(SENTENCES)
    alone = np.vstack([onnx.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose(batch, alone, atol=1e-4)
    assert onnx.encode([]).shape == (0, 768)


def test_an_export_with_one_output_serves_it_as_is(encoder_dir, tmp_path):
    """Artifacts exported before max pooling have one output; the encoder must still serve them."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["input_ids"], ["summed"], keepdims=1),
         helper.make_node("Cast", ["summed"], ["embedding"], to=TensorProto.FLOAT)],
        "one_output",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 1])],
    )
    path = tmp_path / "one.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    onnx = OnnxSentenceEncoder(path, encoder_dir / TOKENIZER_JSON)
    ids = load_tokenizer(encoder_dir / TOKENIZER_JSON).encode("hi").ids
    assert onnx.output_names == ["embedding"] and onnx.dimension == 1
    np.testing.assert_array_equal(onnx.encode(["hi"]), [[float(sum(ids))]])
