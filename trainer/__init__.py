"""The trainer service: training jobs over HTTP (docs/training-jobs.md)."""
