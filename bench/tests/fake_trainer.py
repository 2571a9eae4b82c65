"""A stand-in training CLI for the eval tests: writes an artifact with known metrics, or fails."""

import argparse
import sys

from kit.training import TrainingRun, add_training_args

if __name__ == "__main__":
    parser = add_training_args(argparse.ArgumentParser())
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    if args.fail:
        print("training blew up: no rows")
        sys.exit(3)
    with TrainingRun("fake_bench", args.model_dir, progress=False) as run:
        (run.staging / "weights.txt").write_text("0.5")
        run.record(data=args.data, data_sha256="0" * 64, parameters={}, input_schema={},
                   metrics={"auc": 0.91, "nested": {"f1": 0.5}, "flag": True})
        run.save()
    print("trained")
