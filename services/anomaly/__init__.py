"""Anomaly service: Isolation Forest over per-user profiles, with reasons and feedback."""
