"""Intent service: MiniLM sentence embeddings on ONNX Runtime plus a linear head, with out-of-scope."""
