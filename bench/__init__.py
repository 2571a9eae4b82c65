"""Load benchmarks (`python -m bench.run`) and accuracy benchmarks (`python -m bench.eval`)."""
