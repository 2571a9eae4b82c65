"""Entry of the retraining job (the trainer image; the Kubernetes CronJob and compose's
`<name>-retrain`).

With the model's prediction log configured (`<NAME>_LOG_URL` or `<NAME>_LOG_DIR`, as the
CronJob and compose set it), it first retrains from what was served: `python -m kit.retrain
NAME` (the log joined with outcomes, the drift check, the trainer, the gate's table), with
`--promote` when AUTO_PROMOTE is true. Where that finds too few labelled records, cannot check
drift, cannot make a training file from the log (intent/NER texts not logged), or the model
has no retraining-from-log yet, it falls back to what the job always did: train on the
generated data, which the trainer registers as `candidate`, then, only when AUTO_PROMOTE is
true, put it through the promotion gate with `python -m kit.releases promote`. Production never
moves without the gate: with auto-promotion off the new version stays a candidate until
someone promotes it.

Exit status:
  the trainer's own  training failed (the Job may retry it);
  0                  trained; promoted, or left a candidate (auto-promotion off); or the log
                     showed no need (drift below 0.3 and few new labels: nothing trained);
  3                  the gate refused: production unchanged, the gate's table is in the log;
  4                  the promotion was refused for another reason (said in the log);
  1, 6               retraining from the log failed (training, or the log unreachable).
The CronJob's podFailurePolicy fails the Job at once on 3 and 4, so a refusal shows as one
failed Job (its log holds the table) and never trains again in a retry.
Usage: python retrain.py [NAME] [--model-dir DIR] [--actor TEXT] [TRAINER ARGS...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

sys.path.insert(0, os.environ.get("FINFLEET_APP", "/app"))

GATE_REFUSED = 3
PROMOTION_REFUSED = 4
TRUE = {"1", "true", "yes", "on"}

Run = Callable[..., subprocess.CompletedProcess]


def auto_promote(environ: Mapping[str, str]) -> bool:
    return environ.get("AUTO_PROMOTE", "false").strip().lower() in TRUE


def releases(model_dir: str, actor: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "kit.releases", "--model-dir", model_dir, "--actor", actor,
            *args]


def trainer_module(name: str) -> str:
    from kit.catalog import load_catalog

    return load_catalog().service(name).trainer_module


def say(message: str) -> None:
    print(f"retrain: {message}", flush=True)


def log_configured(name: str, environ: Mapping[str, str]) -> bool:
    prefix = f"{name.upper()}_"
    return bool(environ.get(f"{prefix}LOG_URL") or environ.get(f"{prefix}LOG_DIR"))


def from_log(name: str, model_dir: str, actor: str, trainer_args: Sequence[str],
             environ: Mapping[str, str], run: Run) -> int | None:
    """`python -m kit.retrain NAME`: its exit status, or None where the job falls back to the
    generated data (too few labels, no drift check, no usable file, no module for the model)."""
    from kit import retrain

    command = [sys.executable, "-m", "kit.retrain", name, "--model-dir", model_dir,
               "--actor", actor, *(["--promote"] if auto_promote(environ) else []),
               *trainer_args]
    say(f"retraining {name} from its prediction log: {' '.join(command[1:])}")
    code = run(command).returncode
    if code == retrain.NOT_NEEDED:
        say("no need to retrain (the reason is above); the registry is unchanged")
        return 0
    if code in (retrain.TOO_FEW_LABELLED, retrain.NO_DRIFT_CHECK, retrain.DATA_UNUSABLE,
                retrain.NOT_SUPPORTED):
        say(f"not from the log (exit {code}, above): training on the generated data instead")
        return None
    return code


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ,
         run: Run = subprocess.run) -> int:
    parser = argparse.ArgumentParser(prog="retrain.py", allow_abbrev=False,
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default=environ.get("FINFLEET_SERVICE"),
                        help="the model (default: FINFLEET_SERVICE, the image's)")
    parser.add_argument("--model-dir", default="/models")
    parser.add_argument("--actor", default=None,
                        help="who the registry records (default: retrain/<name>)")
    args, trainer_args = parser.parse_known_args(argv)
    if not args.name:
        parser.error("name the model (or set FINFLEET_SERVICE)")
    actor = args.actor or f"retrain/{args.name}"

    if log_configured(args.name, environ):
        code = from_log(args.name, args.model_dir, actor, trainer_args, environ, run)
        if code is not None:
            return code

    train = [sys.executable, "-m", trainer_module(args.name), "--model-dir", args.model_dir,
             *trainer_args]
    say(f"training {args.name}: {' '.join(train[1:])}")
    trained = run(train)
    if trained.returncode != 0:
        say(f"training failed (exit {trained.returncode}); the registry is unchanged")
        return trained.returncode

    listing = run(releases(args.model_dir, actor, "--json", "list", args.name),
                  capture_output=True, text=True)
    if listing.returncode != 0:
        sys.stderr.write(listing.stderr)
        say("the registry could not be read after training")
        return PROMOTION_REFUSED
    aliases = json.loads(listing.stdout)["aliases"]
    candidate, production = aliases.get("candidate"), aliases.get("production")
    if candidate is None:
        say("training registered no candidate; nothing to promote")
        return PROMOTION_REFUSED
    if not auto_promote(environ):
        say(f"{args.name} {candidate} is the candidate (production stays {production}); "
            "auto-promotion is off (AUTO_PROMOTE=false). Promote it through the gate with: "
            f"python -m kit.releases promote {args.name}")
        return 0
    if candidate == production:
        say(f"{args.name} {candidate} is already production (the model's first version)")
        return 0

    say(f"auto-promotion: gating {args.name} {candidate} against production {production}")
    promoted = run(releases(args.model_dir, actor, "promote", args.name, candidate,
                            "--reason", f"auto-promotion after retraining ({actor})"))
    if promoted.returncode == 0:
        say(f"{args.name} production → {candidate}; serving pods swap within their poll")
        return 0
    if promoted.returncode == 1:
        say(f"the gate refused {args.name} {candidate} (table above); production stays "
            f"{production}, {candidate} stays the candidate")
        return GATE_REFUSED
    say(f"promotion of {args.name} {candidate} refused (exit {promoted.returncode}, above); "
        f"production stays {production}")
    return PROMOTION_REFUSED


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
