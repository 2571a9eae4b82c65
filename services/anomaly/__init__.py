"""Anomaly service: Isolation Forest over per-user transaction profiles, with reasons and feedback."""
