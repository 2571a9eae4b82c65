"""Service files the peers run inside their own venvs (never imported by the project)."""
