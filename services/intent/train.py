"""`python -m services.intent.train`: export MiniLM to ONNX, fit the head, calibrate out-of-scope.

Steps: export (or reuse) the fp32 encoder and check it against sentence-transformers; embed the
data; pick the head by validation accuracy (5-fold on the shipped queries, a 10% split on
Banking77); pick the out-of-scope threshold on those validation predictions; refit on the whole
training split; report on the untouched holdout; try int8 and keep it only if holdout holds.
Training-only libraries (torch, scikit-learn, matplotlib) are imported here, never in serving.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.artifacts import Artifact
from kit.calibration import calibration_summary
from kit.datafiles import DataError
from kit.gate import write_holdout
from kit.profile import attach_profile
from kit.training import TrainingRun, add_training_args
from services.intent.data import (
    Dataset,
    banking77_dataset,
    in_profile_half,
    shipped_dataset,
    user_dataset,
)
from services.intent.encoder import OnnxSentenceEncoder
from services.intent.export import (
    ENCODER_ONNX,
    TOKENIZER_JSON,
    export_encoder,
    exported_provenance,
    quantize_encoder,
    reference_embeddings,
)
from services.intent.features import TfidfFeatures
from services.intent.head import LinearHead, NearestNeighbours
from services.intent.model import IntentModel
from services.intent.report import write_report
from services.intent.schema import OUT_OF_SCOPE
from services.intent.settings import IntentSettings

ENCODER_INT8 = "encoder.int8.onnx"
PARITY_SENTENCES = [
    "What's my balance?",
    "pay my electricity bill via UPI tomorrow",
    "How much tax can I save under 80C if I invest ₹1.5 lakh in PPF?",
    "hi",
]
TFIDF_BLOCKS = {"word": ("word", (1, 2), 1), "char": ("char_wb", (2, 5), 2)}
SPLIT_SEED = 13  # the validation folds' seed
LIBRARIES = ("onnxruntime", "tokenizers", "numpy", "torch", "onnx", "scikit-learn",
             "sentence-transformers")


@dataclass(frozen=True)
class HeadCandidate:
    """One head to try: which TF-IDF blocks join the embedding, the classifier, its C."""

    name: str
    tfidf: tuple[str, ...] = ()
    c: float = 10.0
    embedding_scale: float = 1.0
    classifier: str = "logreg"  # or "svm": margins, calibrated by a fitted temperature
    neighbour_weight: float = 0.0  # > 0: add w · best training-text cosine per label


CANDIDATES = (
    HeadCandidate("minilm-logreg", (), c=10.0),
    HeadCandidate("minilm+tfidf-logreg", ("word", "char"), c=20.0, embedding_scale=2.0),
    HeadCandidate("minilm+tfidf-svm", ("word", "char"), c=0.5, embedding_scale=2.0,
                  classifier="svm"),
    # The SVM plus a 1-nearest-neighbour memory. Its score is the sum of the mean- and
    # max-pooling cosines, so the weight 2.5 is the old 5 on one cosine (how it was picked, on
    # Banking77 train.csv only: docs/intent.md, "Pooling: mean and max").
    HeadCandidate("minilm+tfidf-svm+1nn", ("word", "char"), c=0.5, embedding_scale=2.0,
                  classifier="svm", neighbour_weight=2.5),
)
# Logistic regression on ~40k sparse columns × 77 classes takes many minutes per fit on two
# cores, and the linear SVM on the same features is the better Banking77 head anyway.
BENCHMARK_CANDIDATES = (CANDIDATES[0], CANDIDATES[2], CANDIDATES[3])


def embed(encoder: OnnxSentenceEncoder, texts: list[str], run: TrainingRun,
          batch_size: int = 64, desc: str = "embedding") -> np.ndarray:
    order = np.argsort([len(t) for t in texts])  # similar lengths share padding
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    for start in run.bar(starts, desc, unit="batch"):
        idx = order[start : start + batch_size]
        out[idx] = encoder.encode([texts[i] for i in idx])
    return out


def fit_tfidf(texts: list[str], block: str) -> tuple[object, TfidfFeatures]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer, ngram_range, min_df = TFIDF_BLOCKS[block]
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=min_df,
                                 sublinear_tf=True, dtype=np.float32)
    vectorizer.fit(texts)
    vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    return vectorizer, TfidfFeatures(analyzer, ngram_range, vocabulary, vectorizer.idf_, True)


def fit_head(candidate: HeadCandidate, texts: list[str], embeddings: np.ndarray,
             labels: list[str], label_names: list[str]) -> LinearHead:
    """Logistic regression on [scale·embedding | tf-idf blocks], unpacked into numpy blocks."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    blocks, matrices = {}, [sp.csr_matrix(embeddings * candidate.embedding_scale)]
    for name in candidate.tfidf:
        vectorizer, features = fit_tfidf(texts, name)
        blocks[name] = features
        matrices.append(vectorizer.transform(texts))
    x = sp.hstack(matrices).tocsr() if blocks else embeddings * candidate.embedding_scale
    y = np.array([label_names.index(label) for label in labels])
    if candidate.classifier == "svm":
        from sklearn.svm import LinearSVC

        clf = LinearSVC(C=candidate.c, max_iter=5000)
    else:
        clf = LogisticRegression(C=candidate.c, max_iter=3000, tol=1e-4)
    clf.fit(x, y)
    weights = np.zeros((x.shape[1], len(label_names)), dtype=np.float32)
    weights[:, clf.classes_] = clf.coef_.T
    bias = np.full(len(label_names), -1e4, dtype=np.float32)  # a class absent from this fit
    bias[clf.classes_] = clf.intercept_
    dim = embeddings.shape[1]
    tfidf, offset = {}, dim
    for name, features in blocks.items():
        tfidf[name] = (features, weights[offset : offset + len(features)])
        offset += len(features)
    neighbours = None
    if candidate.neighbour_weight:
        neighbours = NearestNeighbours(embeddings, y, len(label_names))
    return LinearHead(label_names, weights[:dim] * candidate.embedding_scale, bias, tfidf,
                      neighbours=neighbours, neighbour_weight=candidate.neighbour_weight)


def validation_splits(labels: list[str], folds: int, seed: int = SPLIT_SEED):
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    if folds > 1:
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(labels, labels))
    return list(StratifiedShuffleSplit(1, test_size=0.1, random_state=seed).split(labels, labels))


def validation_probabilities(candidate: HeadCandidate, texts: list[str], embeddings: np.ndarray,
                             labels: list[str], label_names: list[str], splits) -> np.ndarray:
    """Probabilities for each validated row from a head that never saw it (NaN elsewhere)."""
    probs = np.full((len(texts), len(label_names)), np.nan, dtype=np.float64)
    for fit_idx, val_idx in splits:
        head = fit_head(candidate, [texts[i] for i in fit_idx], embeddings[fit_idx],
                        [labels[i] for i in fit_idx], label_names)
        probs[val_idx] = head.probabilities(embeddings[val_idx], [texts[i] for i in val_idx])
    return probs


def temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(t·scores) from softmax(scores): the same as renormalising probs**t."""
    logp = np.log(np.clip(probs, 1e-300, None)) * temperature
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, truth: list[str], label_names: list[str]) -> float:
    """The temperature minimising validation log-loss, so confidences mean probabilities: a
    bounded search over log t in [1/20, 100] (log-loss is smooth and unimodal in log t)."""
    from scipy.optimize import minimize_scalar

    y = np.array([label_names.index(label) for label in truth])

    def nll(log_t: float) -> float:
        tempered = temper(probs, float(np.exp(log_t)))[np.arange(len(y)), y]
        return float(-np.log(np.clip(tempered, 1e-12, None)).mean())

    found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(100.0)), method="bounded",
                            options={"xatol": 1e-4})
    return round(float(np.exp(found.x)), 4)


def decide(probs: np.ndarray, label_names: list[str], threshold: float,
           out_of_scope: str | None) -> list[str]:
    head = LinearHead(label_names, np.zeros((1, len(label_names))), np.zeros(len(label_names)),
                      threshold=threshold, out_of_scope=out_of_scope)
    return head.decide(probs)[0]


def scores(predicted: list[str], truth: list[str], out_of_scope: str | None) -> dict[str, float]:
    predicted_a, truth_a = np.array(predicted), np.array(truth)
    out = {"accuracy": float((predicted_a == truth_a).mean())}
    if out_of_scope is not None:
        in_scope = truth_a != out_of_scope
        flagged = predicted_a == out_of_scope
        out["in_scope_accuracy"] = float((predicted_a[in_scope] == truth_a[in_scope]).mean())
        out["out_of_scope_recall"] = float(flagged[~in_scope].mean())
        out["out_of_scope_precision"] = float((~in_scope[flagged]).mean()) if flagged.any() else 0.0
    return out


OOS_TARGETS = {"recall": "out_of_scope_recall", "precision": "out_of_scope_precision"}
DEFAULT_CRITERION = "the mean of in-scope accuracy and out-of-scope recall, maximised"


def parse_oos_target(text: str) -> tuple[str, float]:
    """`recall=0.9` or `precision=0.95` → (metric, value); a ValueError says what is wrong."""
    kind, _, value = text.partition("=")
    if kind.strip() not in OOS_TARGETS:
        raise ValueError(f"{text!r}: expected recall=VALUE or precision=VALUE")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {value!r} is not a number") from None
    if not 0.0 < number <= 1.0:
        raise ValueError(f"{text!r}: the target must be in (0, 1]")
    return kind.strip(), number


def oos_target_arg(text: str) -> tuple[str, float]:
    try:
        return parse_oos_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def choose_threshold(probs: np.ndarray, truth: list[str], label_names: list[str],
                     out_of_scope: str, target: tuple[str, float] | None = None
                     ) -> tuple[float, list[dict[str, float]]]:
    """The out-of-scope threshold, picked on validation predictions.

    No target: the one maximising the mean of in-scope accuracy and out-of-scope recall (the
    default criterion). `("recall", r)`: the best in-scope accuracy among thresholds whose
    out-of-scope recall is ≥ r. `("precision", q)`: the best out-of-scope recall among those
    whose precision is ≥ q. When no threshold meets the target, the one closest to it.
    """
    curve = []
    for threshold in np.round(np.arange(0.0, 0.991, 0.01), 2):
        s = scores(decide(probs, label_names, float(threshold), out_of_scope), truth, out_of_scope)
        curve.append({"threshold": float(threshold), **s})
    if target is None:
        best = max(curve, key=lambda r: (r["in_scope_accuracy"] + r["out_of_scope_recall"]) / 2)
        return best["threshold"], curve
    kind, value = target
    metric = OOS_TARGETS[kind]
    other = "in_scope_accuracy" if kind == "recall" else "out_of_scope_recall"
    meeting = [r for r in curve if r[metric] >= value]
    if meeting:
        best = max(meeting, key=lambda r: (r[other], r["in_scope_accuracy"]))
    else:
        best = max(curve, key=lambda r: (r[metric], r[other]))
    return best["threshold"], curve


def operating_point(curve: list[dict[str, float]], threshold: float,
                    target: tuple[str, float] | None) -> dict:
    """What was asked, what the validation predictions gave at the chosen threshold."""
    at = next(r for r in curve if r["threshold"] == threshold)
    point = {"target": None, "criterion": DEFAULT_CRITERION, "threshold": threshold,
             "validation": {k: v for k, v in at.items() if k != "threshold"}}
    if target is not None:
        kind, value = target
        point.update(target=f"{kind}={value:g}", met=at[OOS_TARGETS[kind]] >= value,
                     criterion=(f"out-of-scope {kind} ≥ {value:g} on validation, then the best "
                                + ("in-scope accuracy" if kind == "recall"
                                   else "out-of-scope recall")))
    return point


def per_label_recall(predicted: list[str], truth: list[str]) -> dict[str, float]:
    predicted_a, truth_a = np.array(predicted), np.array(truth)
    return {label: float((predicted_a[truth_a == label] == label).mean())
            for label in sorted(set(truth))}


def prepare_encoder(work: Path, encoder_dir: Path | None, run: TrainingRun,
                    check_parity: bool = True) -> dict:
    """Export MiniLM (or copy an export made earlier) into `work`, and record its parity."""
    if encoder_dir is not None:
        for name in (ENCODER_ONNX, TOKENIZER_JSON):
            shutil.copyfile(encoder_dir / name, work / name)
        run.say(f"reusing the encoder exported in {encoder_dir}")
        provenance = exported_provenance(encoder_dir)
        provenance["reused_export"] = str(encoder_dir)
    else:
        run.say("exporting all-MiniLM-L6-v2 to ONNX (torch, fp32)")
        provenance = export_encoder(work)
    if not check_parity:
        return provenance
    try:
        reference = reference_embeddings(PARITY_SENTENCES)
    except ImportError:
        return provenance
    onnx = OnnxSentenceEncoder(work / ENCODER_ONNX, work / TOKENIZER_JSON).outputs(
        PARITY_SENTENCES)["embedding"]
    provenance["parity_min_cosine_vs_torch"] = round(float((onnx * reference).sum(1).min()), 6)
    run.say(f"ONNX vs sentence-transformers: min cosine "
            f"{provenance['parity_min_cosine_vs_torch']}")
    return provenance


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Row-wise cosine, averaged: the features are several unit poolings side by side."""
    dot = (a * b).sum(1)
    return float((dot / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean())


def evaluate(head: LinearHead, embeddings: np.ndarray, texts: list[str], truth: list[str],
             ) -> tuple[list[str], dict[str, float], np.ndarray]:
    """Holdout predictions, metrics with and without the out-of-scope threshold (the latter
    under `without_threshold`), and the served probabilities."""
    probs = head.probabilities(embeddings, texts)
    predicted = head.decide(probs)[0]
    metrics = scores(predicted, truth, head.out_of_scope)
    raw = decide(probs, head.labels, 0.0, head.out_of_scope)
    metrics["accuracy_without_threshold"] = scores(raw, truth, None)["accuracy"]
    metrics["without_threshold"] = scores(raw, truth, head.out_of_scope)
    return predicted, metrics, probs


def calibration_pairs(head: LinearHead, probs: np.ndarray, truth: list[str]
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(stated confidence, answered right) per holdout row: `before`, the softmax at temperature
    1 and its top label; `served`, what the service answers (temperature, then threshold)."""
    truth_a = np.array(truth)
    raw = temper(probs, 1.0 / head.temperature)
    raw_top = raw.argmax(axis=1)
    labels, confidence = head.decide(probs)
    return {"before": (raw[np.arange(len(raw)), raw_top],
                       np.array([head.labels[i] for i in raw_top]) == truth_a),
            "served": (confidence, np.array(labels) == truth_a)}


def served_calibration(head: LinearHead, pairs: dict, probs: np.ndarray) -> dict:
    """The manifest's calibration: the temperature, ECE and reliability before and served."""
    raw = temper(probs, 1.0 / head.temperature)
    return {
        "method": "temperature", "temperature": head.temperature,
        "fitted_on": "the chosen head's validation predictions (log-loss)",
        "holdout_before": calibration_summary(*pairs["before"]),
        "holdout_after": calibration_summary(*pairs["served"]),
        "argmax_unchanged": bool((raw.argmax(axis=1) == probs.argmax(axis=1)).all()),
    }


def select_head(dataset: Dataset, embeddings: np.ndarray, candidates, folds: int, seed: int,
                run: TrainingRun, oos_target: tuple[str, float] | None = None
                ) -> tuple[HeadCandidate, dict[str, float], float, float, list]:
    """The best candidate by validation accuracy, then its temperature and OOS threshold."""
    label_names = list(dataset.labels)
    texts, labels = dataset.train.texts, dataset.train.labels
    splits = validation_splits(labels, folds, seed)
    accuracy, outcomes = {}, {}
    for candidate in candidates:
        probs = validation_probabilities(candidate, texts, embeddings, labels, label_names,
                                         splits)
        seen = ~np.isnan(probs[:, 0])
        truth = [y for y, s in zip(labels, seen, strict=True) if s]
        accuracy[candidate.name] = scores(decide(probs[seen], label_names, 0.0, None), truth,
                                          None)["accuracy"]
        outcomes[candidate.name] = (probs[seen], truth)
        run.say(f"head {candidate.name}: validation accuracy {accuracy[candidate.name]:.4f}")
    best = max(candidates, key=lambda c: accuracy[c.name])
    probs, truth = outcomes[best.name]
    temperature = fit_temperature(probs, truth, label_names)
    run.say(f"confidence temperature {temperature:.3f} (validation log-loss)")
    threshold, curve = 0.0, []
    if OUT_OF_SCOPE in label_names:
        threshold, curve = choose_threshold(temper(probs, temperature), truth, label_names,
                                            OUT_OF_SCOPE, oos_target)
        run.say(f"out-of-scope threshold {threshold:.2f} (validation predictions)")
    return best, accuracy, float(temperature), threshold, curve


def train(dataset: Dataset, model_dir: Path, *, encoder_dir: Path | None = None,
          quantize: bool = True, check_parity: bool = True, folds: int | None = None,
          seed: int = SPLIT_SEED, progress: bool = True,
          candidates: tuple[HeadCandidate, ...] = CANDIDATES, name: str = "intent",
          oos_target: tuple[str, float] | None = None) -> Artifact:
    """Train, evaluate and save one version under `model_dir/<name>/`.

    `folds` picks the validation scheme (default: 5-fold below 5,000 texts, one 10% split above).
    `oos_target` (`("recall", 0.9)`, `("precision", 0.95)`) picks the out-of-scope threshold
    that meets it on validation instead of the default criterion; ignored, with a note, for
    data without an out-of-scope label.
    """
    oos = OUT_OF_SCOPE if OUT_OF_SCOPE in dataset.labels else None
    label_names = list(dataset.labels)
    folds = folds or (5 if len(dataset.train) < 5000 else 1)
    holdout = dataset.holdout
    with TrainingRun(name, model_dir, libraries=LIBRARIES, progress=progress) as run:
        work = run.staging
        encoder_info = prepare_encoder(work, encoder_dir, run, check_parity)
        encoder = OnnxSentenceEncoder(work / ENCODER_ONNX, work / TOKENIZER_JSON, threads=2)
        run.say(f"embedding {len(dataset.train)} train + {len(holdout)} holdout texts")
        train_emb = embed(encoder, dataset.train.texts, run, desc="train")
        holdout_emb = embed(encoder, holdout.texts, run, desc="holdout")

        best, selection, temperature, threshold, curve = select_head(
            dataset, train_emb, candidates, folds, seed, run, oos_target)
        point = operating_point(curve, threshold, oos_target) if curve else {
            "target": None, "threshold": 0.0,
            "note": "no out-of-scope label in the data: no threshold"
                    + (f" (--oos-target {oos_target[0]}={oos_target[1]:g} ignored)"
                       if oos_target else "")}
        run.say(f"fitting {best.name} on all {len(dataset.train)} training texts")
        head = fit_head(best, dataset.train.texts, train_emb, dataset.train.labels, label_names)
        head.threshold, head.out_of_scope, head.temperature = threshold, oos, temperature
        predicted, metrics, probs = evaluate(head, holdout_emb, holdout.texts, holdout.labels)
        run.say("holdout fp32: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                             if isinstance(v, float)))

        variants = {"fp32": metrics}
        encoder_file = ENCODER_ONNX
        if quantize:
            run.say("trying dynamic int8 (per-channel) end to end on the holdout")
            quantize_encoder(work / ENCODER_ONNX, work / ENCODER_INT8)
            int8 = OnnxSentenceEncoder(work / ENCODER_INT8, work / TOKENIZER_JSON, threads=2)
            int8_emb = embed(int8, holdout.texts, run, desc="holdout int8")
            int8_pred, variants["int8"], int8_probs = evaluate(head, int8_emb, holdout.texts,
                                                                holdout.labels)
            keeps = all(variants["int8"][k] >= v for k, v in metrics.items()
                        if isinstance(v, float))
            variants["int8"]["mean_cosine_to_fp32"] = mean_cosine(int8_emb, holdout_emb)
            run.say("int8 holdout " + ", ".join(f"{k} {v:.4f}" for k, v in variants["int8"].items()
                                                if isinstance(v, float))
                    + f" → {'keep' if keeps else 'drop'}")
            if keeps:
                encoder_file, predicted, metrics = ENCODER_INT8, int8_pred, dict(variants["int8"])
                probs = int8_probs
            (work / (ENCODER_ONNX if keeps else ENCODER_INT8)).unlink()
        metrics["per_label_recall"] = per_label_recall(predicted, holdout.labels)
        pairs = calibration_pairs(head, probs, holdout.labels)
        calibration = served_calibration(head, pairs, probs)
        metrics["ece"] = calibration["holdout_after"]["ece"]
        metrics["ece_before_calibration"] = calibration["holdout_before"]["ece"]
        run.say(f"holdout ECE {metrics['ece_before_calibration']:.4f} at temperature 1, "
                f"{metrics['ece']:.4f} served")
        if curve:
            point["holdout"] = {k: metrics[k] for k in
                                ("in_scope_accuracy", "out_of_scope_recall",
                                 "out_of_scope_precision")}

        head.save(work, {"candidate": best.name})
        encoder_info.update({"file": encoder_file, "tokenizer": TOKENIZER_JSON,
                             "variant": "int8" if encoder_file == ENCODER_INT8 else "fp32",
                             "max_tokens": 256,
                             "pooling": "mean and max over the tokens, each L2-normalised"})
        run.record(
            data=dataset.name,
            data_sha256=dataset.sha256,
            parameters={
                "head": best.name, "classifier": best.classifier, "c": best.c,
                "embedding_scale": best.embedding_scale, "temperature": float(temperature),
                "neighbour_weight": best.neighbour_weight,
                "tfidf_blocks": {k: list(map(str, TFIDF_BLOCKS[k])) for k in best.tfidf},
                "out_of_scope_threshold": threshold,
                "out_of_scope_target": point["target"], "selection_folds": folds,
                "selection_seed": seed,
                "train_size": len(dataset.train), "holdout_size": len(dataset.holdout),
            },
            metrics=metrics,
            input_schema={"input": {"text": "string"}, "embedding_dim": encoder.dimension,
                          "tfidf": {k: f.config() for k, (f, _) in head.tfidf.items()}},
            selection=selection,
            calibration=calibration,
            out_of_scope=point,
            variants=variants,
            encoder=encoder_info,
            labels=label_names,
            # The rows the promotion gate scores this version and production on (kit/gate.py).
            holdout_file=write_holdout(
                work, ({"text": t, "label": y} for t, y in zip(holdout.texts, holdout.labels,
                                                                strict=True)),
                what="the holdout texts and their labels"),
        )
        # The reference profile: half the holdout through the model being saved (the other
        # half is the drift tests' traffic "like the training data"); vocabulary and
        # projection fitted on the training texts.
        attach_profile(run, IntentModel(IntentSettings()),
                       [{"text": t} for t in holdout.texts if in_profile_half(t)],
                       fit_instances=[{"text": t} for t in dataset.train.texts])
        write_report(run, curve, predicted, dataset.holdout.labels, label_names, pairs)
        return run.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_training_args(parser, data="shipped",
                      data_help="'shipped' (default model), a text,label CSV of your own "
                                "intents (docs/own-data.md), 'banking77', or a Banking77-style "
                                "folder", seed=SPLIT_SEED,
                      quick_help="small and fast (smoke runs): 3 folds, one head, no int8 "
                                 "trial, no torch parity check")
    parser.add_argument("--encoder-dir", type=Path, default=None,
                        help="reuse an exported encoder.onnx + tokenizer.json")
    parser.add_argument("--no-quantize", action="store_true", help="skip the int8 trial")
    parser.add_argument("--oos-target", type=oos_target_arg, default=None,
                        metavar="recall=R|precision=P",
                        help="the out-of-scope operating point: the threshold that reaches this "
                             "out-of-scope recall (or precision) on validation; default: the "
                             "best mean of in-scope accuracy and out-of-scope recall")
    args = parser.parse_args(argv)
    if args.data == "shipped":
        dataset, name = shipped_dataset(), "intent"
    elif Path(args.data).is_file():  # the user's own intents: served as `intent`
        try:
            dataset, name = user_dataset(Path(args.data)), "intent"
        except DataError as exc:
            print(f"intent train: {exc}", file=sys.stderr)
            return 2
    else:
        folder = None if args.data == "banking77" else Path(args.data)
        dataset = banking77_dataset(folder) if folder else banking77_dataset()
        name = "intent_banking77"  # a benchmark: never the served `intent` model
    candidates = CANDIDATES if name == "intent" else BENCHMARK_CANDIDATES
    if args.quick:
        options = {"folds": 3, "candidates": candidates[-1:], "quantize": False,
                   "check_parity": False}
    else:
        options = {"candidates": candidates, "quantize": not args.no_quantize}
    artifact = train(dataset, args.model_dir, encoder_dir=args.encoder_dir, seed=args.seed,
                     progress=not args.no_progress, name=name, oos_target=args.oos_target,
                     **options)
    metrics = artifact.manifest["metrics"]
    print(f"{name} {artifact.version}: " + ", ".join(
        f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
