"""Intent service: MiniLM embeddings on ONNX Runtime, a linear head, out-of-scope detection."""
