"""A stand-in training CLI for the eval tests: writes an artifact with known metrics, or fails."""

import argparse
import sys
import tempfile
from pathlib import Path

from kit.artifacts import ArtifactStore

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    if args.fail:
        print("training blew up: no rows")
        sys.exit(3)
    staging = Path(tempfile.mkdtemp())
    (staging / "weights.txt").write_text("0.5")
    ArtifactStore(args.model_dir, "fake_bench").save(
        staging, {"metrics": {"auc": 0.91, "nested": {"f1": 0.5}, "flag": True}})
    print("trained")
