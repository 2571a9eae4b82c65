"""Run the whole fleet on one machine: `python -m fleet run` (what `make run` calls)."""
