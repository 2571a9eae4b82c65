"""The prediction log and outcomes on the embedded (SQLite) backend, through a kit app."""

from __future__ import annotations

import logging
import random
import re
import sqlite3
import threading
import time
from typing import Any

import pytest

from kit import ArtifactStore, ServedModel, ServiceSettings, create_app
from kit.predlog import FEATURE_BURST_SECONDS, shadow_of
from kit.predlog_store import BUSY_SECONDS, OutcomeItem, SqliteLogStore, _use_wal
from kit.predlog_writer import WriterProcess, WriterUnavailable
from kit.quality import auc, average_precision, ranking, relative_error, span_f1
from kit.testing import running_client


class Scorer(ServedModel):
    """Scores `amount`; its instances carry a user id and free text, as real ones do."""

    name = "scorer"
    offload = False
    log_user_fields = ("user_id",)
    log_text_fields = ("note.text",)
    log_key_field = "ref"
    outcome_label = bool

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        return [{"score": i["amount"] / 100, "ref": i.get("ref", "r")} for i in instances]

    @classmethod
    def live_quality(cls, pairs):
        return ranking(pairs, lambda p: p["score"], bool)


def instance(amount: float, ref: str = "r") -> dict[str, Any]:
    return {"user_id": "alice@example.com", "amount": amount, "ref": ref,
            "note": {"text": "salary 4200 from ACME", "lang": "en"}}


def app_on(tmp_path, **settings):
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    (staging / "w.bin").write_bytes(b"w")
    ArtifactStore(tmp_path / "models", "scorer").save(staging, {"metrics": {}})
    options = {"model_dir": tmp_path / "models", "log_flush_seconds": 60, "log_salt": "pepper",
               "quality_seconds": 0, **settings}
    return create_app(Scorer, ServiceSettings(**options))


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


async def test_each_prediction_is_logged_with_ids_hashed_users_and_summarised_text(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        answer = await client.post("/v1/models/scorer:predict",
                                   json={"instances": [instance(10), instance(90)]},
                                   headers={"X-Request-ID": "req-1"})
        body = answer.json()
        assert answer.status_code == 200
        assert body["predictions"] == [{"score": 0.1, "ref": "r"}, {"score": 0.9, "ref": "r"}]
        ids = body["prediction_ids"]
        assert len(ids) == 2 and len(set(ids)) == 2
        version = body["model_version"]
        shadow = await client.post(f"/v1/models/scorer/versions/{version}:predict",
                                   json={"instances": [instance(50)]},
                                   headers={"X-Finfleet-Shadow": "1"})
        canary = await client.post(f"/v1/models/scorer/versions/{version}:predict",
                                   json={"instances": [instance(50)]},
                                   headers={"X-Finfleet-Served-By": "canary"})
        assert app.state.predlog.flush() == 4
        rows = app.state.predlog.store.read_predictions("scorer")
    assert [r["prediction_id"] for r in rows[:2]] == ids
    first = rows[0]
    assert first["request_id"] == "req-1" and first["version"] == version
    assert first["served_by"] == "production" and first["key"] == "r"
    assert first["output"] == {"score": 0.1, "ref": "r"}
    assert "alice" not in str(first["input"]) and first["input"]["user_id"] == first["user_hash"]
    assert re.fullmatch(r"[0-9a-f]{32}", first["user_hash"])
    assert first["input"]["note"]["lang"] == "en"  # only the text is summarised
    summary = first["input"]["note"]["text"]
    assert {k: summary[k] for k in ("chars", "words", "digits")} == {
        "chars": 21, "words": 4, "digits": 4}
    assert first["latency_ms"] >= 0
    served = {r["prediction_id"]: r["served_by"] for r in rows}
    assert served[shadow.json()["prediction_ids"][0]] == "shadow"
    assert served[canary.json()["prediction_ids"][0]] == "canary"


async def test_text_is_logged_as_sent_when_log_inputs_allows_it(tmp_path):
    app = app_on(tmp_path, log_inputs=True)
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(1)]})
        app.state.predlog.flush()
        row = app.state.predlog.store.read_predictions("scorer")[0]
    assert row["input"]["note"]["text"] == "salary 4200 from ACME"
    assert "alice" not in str(row["input"])  # user ids are hashed all the same


async def test_outcomes_attach_by_prediction_or_request_id_and_feed_live_quality(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        batch = (await client.post("/v1/models/scorer:predict", json={
            "instances": [instance(a) for a in (10, 20, 80, 90)]})).json()
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(70)]},
                          headers={"X-Request-ID": "one-instance"})
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(1)] * 2},
                          headers={"X-Request-ID": "two-instances"})
        app.state.predlog.flush()
        ids = batch["prediction_ids"]
        labels = [False, True, False, True]
        answer = await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
            *({"prediction_id": p, "label": y} for p, y in zip(ids, labels, strict=True)),
            {"request_id": "one-instance", "label": True},
            {"prediction_id": "never-made", "label": True},
            {"request_id": "two-instances", "label": False}]})
        assert answer.status_code == 200
        body = answer.json()
        assert body["stored"] == 5 and body["unknown"] == 2
        statuses = [r["status"] for r in body["results"]]
        assert statuses == ["stored"] * 5 + ["unknown"] * 2
        assert "never-made" in body["results"][5]["detail"]
        assert "several predictions" in body["results"][6]["detail"]
        labelled = app.state.predlog.store.labelled("scorer")
        assert [r["label"] for r in labelled] == [*labels, True]
        app.state.predlog.update_quality()
        text = (await client.get("/metrics")).text
    version = batch["model_version"]
    # scores .1 .2 .8 .9 .7 against F T F T T: 4 of the 6 (pos, neg) pairs ordered right
    assert metric(text, "finfleet_live_quality", version=version, metric="auc") == pytest.approx(
        4 / 6)
    assert metric(text, "finfleet_live_labelled", version=version) == 5
    assert metric(text, "finfleet_outcomes_total", result="unknown") == 2


async def test_a_bad_outcome_is_a_422_naming_the_item(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        bad_label = await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
            {"prediction_id": "a", "label": True}, {"prediction_id": "b", "label": "perhaps"}]})
        both = await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
            {"prediction_id": "a", "request_id": "r", "label": True}]})
        empty = await client.post("/v1/models/scorer/outcomes", json={"outcomes": []})
        Scorer.outcome_label = Any
        try:
            huge = await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
                {"prediction_id": "a", "label": {"n": 2 ** 70}}]})
        finally:
            Scorer.outcome_label = bool
    assert huge.status_code == 422 and huge.json()["errors"][0]["type"] == "unstorable"
    assert bad_label.status_code == 422
    assert bad_label.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in bad_label.json()["errors"]] == ["outcomes[1].label"]
    assert both.status_code == 422 and "exactly one" in both.text
    assert empty.status_code == 422


async def test_outcomes_the_store_cannot_take_are_a_503_whose_cause_is_logged(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be")
    app = app_on(tmp_path, log_dir=blocked)
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = seen.append  # type: ignore[method-assign]
    app.state.logger.addHandler(handler)
    try:
        async with running_client(app) as client:
            answer = await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
                {"prediction_id": "a", "label": True}]})
    finally:
        app.state.logger.removeHandler(handler)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("log-unavailable") and "retry later" in answer.text
    assert [r.getMessage().split(":")[0] for r in seen] == ["outcomes not stored"]
    assert seen[0].exc_info is not None, "with its traceback"
    assert "not-a-folder" in seen[0].getMessage(), "the cause is named"


async def test_a_full_queue_drops_and_counts_without_failing_the_request(tmp_path):
    app = app_on(tmp_path, log_queue_size=1)
    async with running_client(app) as client:
        answers = [await client.post("/v1/models/scorer:predict",
                                     json={"instances": [instance(5)] * 3}) for _ in range(3)]
        assert {a.status_code for a in answers} == {200}
        # the kept record's ids are answered; a dropped one's are not (no outcome could join)
        assert all(answers[0].json()["prediction_ids"])
        assert [a.json()["prediction_ids"] for a in answers[1:]] == [[None] * 3] * 2
        text = (await client.get("/metrics")).text
        assert metric(text, "finfleet_predlog_records_total", outcome="dropped") == 6
        assert metric(text, "finfleet_predlog_queue_depth") == 1
        assert app.state.predlog.flush() == 3


async def test_a_failing_backend_counts_failed_records_and_predicts_go_on(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log's folder should be")
    app = app_on(tmp_path, log_dir=blocked)
    async with running_client(app) as client:
        answer = await client.post("/v1/models/scorer:predict", json={"instances": [instance(5)]})
        assert answer.status_code == 200
        assert app.state.predlog.flush() == 0
        text = (await client.get("/metrics")).text
    assert metric(text, "finfleet_predlog_records_total", outcome="failed") == 1
    assert metric(text, "finfleet_predlog_records_total", outcome="written") == 0


async def test_a_writer_process_that_died_is_restarted_before_the_next_chunk(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(5)]})
        assert app.state.predlog.flush() == 1
        first = app.state.predlog.writer.process
        first.kill()
        first.wait()
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(6)] * 2})
        assert app.state.predlog.flush() == 2
        assert app.state.predlog.writer.process.pid != first.pid
        text = (await client.get("/metrics")).text
        amounts = [r["input"]["amount"] for r in app.state.predlog.store.read_predictions("scorer")]
    assert amounts == [5, 6, 6]
    assert metric(text, "finfleet_predlog_records_total", outcome="failed") == 0


def test_a_writer_that_dies_holding_a_chunk_fails_it_and_the_next_one_starts(tmp_path):
    writer = WriterProcess({"name": "m", "directory": str(tmp_path), "salt": "s"})
    record = b'[["p1"],1.0,"v1",null,"production",[{"x":1}],[{"y":2}],0.001,null]'
    assert writer.write([record]) == (1, 0, None)
    with pytest.raises(WriterUnavailable, match="exited"):
        writer.write([b"not a record"])  # the child fails on it and exits
    assert writer.process is None
    assert writer.write([record.replace(b"p1", b"p2")]) == (1, 0, None)
    writer.close()
    assert [r["prediction_id"] for r in SqliteLogStore(tmp_path).read_predictions("m")] == [
        "p1", "p2"]


async def test_drift_features_are_logged_by_the_serving_version_within_the_budget(tmp_path):
    app = app_on(tmp_path, log_features_per_second=3 / FEATURE_BURST_SECONDS)  # a bucket of 3
    async with running_client(app) as client:
        for amount in (10, 20, 30, 40):
            await client.post("/v1/models/scorer:predict", json={"instances": [instance(amount)]})
        app.state.predlog.flush()
        rows = app.state.predlog.store.read_predictions("scorer")
    featured = [r["features"] for r in rows if r["features"] is not None]
    assert len(rows) == 4 and len(featured) == 3
    for features in featured:  # ServedModel's default: the scalars of instance and answer
        assert features["amount"] * 0.01 == pytest.approx(features["output.score"])
        assert features["note.lang"] == "en"
        assert "user_id" not in features and "note.text" not in features  # hashed, summarised


async def test_sampling_off_answers_without_ids_and_logs_nothing(tmp_path):
    app = app_on(tmp_path, log_sample_rate=0)
    async with running_client(app) as client:
        body = (await client.post("/v1/models/scorer:predict",
                                  json={"instances": [instance(5)]})).json()
        assert "prediction_ids" not in body
        assert app.state.predlog.flush() == 0


async def test_the_predict_operation_documents_prediction_ids(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        spec = (await client.get("/openapi.json")).json()
    answer = spec["paths"]["/v1/models/scorer:predict"]["post"]["responses"]["200"]
    properties = answer["content"]["application/json"]["schema"]["properties"]
    assert properties["prediction_ids"]["type"] == "array"
    assert "/v1/models/scorer/outcomes" in spec["paths"]


def rows_of(n: int, start: float = 0.0) -> list[tuple]:
    return [(f"p{start + i:.0f}", None, start + i, "m", "v1", "production", f"k{i % 3}", None,
             '{"x": 1}', '{"y": "' + "z" * 200 + '"}', 0.1, None, None) for i in range(n)]


def test_embedded_files_rotate_stay_bounded_and_outcomes_find_old_files(tmp_path):
    store = SqliteLogStore(tmp_path, max_bytes=40_000, keep_files=2)
    for batch in range(12):
        store.write_predictions(rows_of(50, start=batch * 50))
    files = store.files("m")
    assert len(files) == 3  # the current file and two rotated ones
    kept = store.read_predictions("m")
    assert kept == sorted(kept, key=lambda r: r["ts"]) and len(kept) < 600
    oldest = kept[0]["prediction_id"]
    assert store.read_predictions("m", since=kept[-1]["ts"]) == [kept[-1]]
    results = store.attach_outcomes("m", [OutcomeItem(True, prediction_id=oldest),
                                          OutcomeItem(True, prediction_id="p0"),
                                          OutcomeItem(False, key="k1")])
    assert [r["status"] for r in results] == ["stored", "unknown", "stored"]
    newest_k1 = max((r for r in kept if r["key"] == "k1"), key=lambda r: r["ts"])
    assert results[2]["prediction_id"] == newest_k1["prediction_id"]
    assert {r["prediction_id"] for r in store.labelled("m")} == {
        oldest, newest_k1["prediction_id"]}
    store.close()


def test_connections_opening_a_fresh_file_at_once_all_wait_for_the_switch_to_wal(tmp_path):
    """The writer process and the outcome route can create the current file at the same
    moment; SQLite answers one of them "database is locked" at once unless the switch to WAL
    is retried (a CI run's outcomes got a 503 so). Here four connections, two writing
    predictions and two attaching outcomes, open each of 100 fresh folders together."""
    failures: list[BaseException] = []

    def at_once(barrier: threading.Barrier, work) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # every failure is the test's answer
            failures.append(exc)

    for round_ in range(100):
        root, barrier = tmp_path / f"r{round_}", threading.Barrier(4)
        stores = [SqliteLogStore(root) for _ in range(4)]
        work = [lambda s=stores[0]: s.write_predictions(rows_of(2)),
                lambda s=stores[1]: s.write_predictions(rows_of(2, start=2)),
                *(lambda s=s: s.attach_outcomes("m", [OutcomeItem(True, prediction_id="p0")])
                  for s in stores[2:])]
        threads = [threading.Thread(target=at_once, args=(barrier, w)) for w in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in stores:
            store.close()
    assert failures == [], f"{len(failures)} of 400 opens failed: {failures[0]!r}"


def test_a_file_that_cannot_be_wal_fails_at_once_and_a_switched_one_keeps_its_timeout(tmp_path):
    memory = sqlite3.connect(":memory:")  # answers "memory" to the switch, without an error
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="memory mode"):
        _use_wal(memory)
    assert time.monotonic() - started < BUSY_SECONDS / 2, "no waiting on a mode refused for good"
    disk = sqlite3.connect(tmp_path / "f.sqlite")
    _use_wal(disk)
    assert disk.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert disk.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_SECONDS * 1000


def test_ranking_metrics_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(7)
    scores = [round(rng.random(), 1) for _ in range(300)]  # rounded: many ties
    labels = [rng.random() < s for s in scores]
    assert auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert average_precision(scores, labels) == pytest.approx(
        metrics.average_precision_score(labels, scores))
    assert auc(scores, [True] * 300) is None


def test_span_f1_and_relative_error():
    pairs = [([(0, 4, "MONEY"), (9, 15, "MERCHANT")], [(0, 4, "MONEY"), (20, 25, "DATE")])]
    assert span_f1(pairs, list, list)["span_f1"] == pytest.approx(0.5)
    forecast = [({"2026-11": 110.0}, {"month": "2026-11", "amount": 100.0}),
                ({"2026-11": 50.0}, {"month": "2027-01", "amount": 10.0})]
    found = relative_error(forecast, lambda p, y: p.get(y["month"]), lambda y: y["amount"])
    assert found == {"relative_error": pytest.approx(0.1)}


async def test_shadow_answers_are_judged_by_the_outcome_of_the_production_answer(tmp_path):
    app = app_on(tmp_path)
    async with running_client(app) as client:
        async def ask(amounts, request_id, shadow):
            body = {"instances": [instance(a) for a in amounts]}
            production = (await client.post("/v1/models/scorer:predict", json=body,
                                            headers={"X-Request-ID": request_id})).json()
            if shadow:  # the gateway's copy, naming production's ids, to the version route
                await client.post(
                    f"/v1/models/scorer/versions/{production['model_version']}:predict",
                    json=body, headers={"X-Request-ID": request_id, "X-Finfleet-Shadow": "1",
                                        "X-Finfleet-Shadow-Of":
                                            ",".join(production["prediction_ids"])})
            return production["prediction_ids"]

        # one caller reuses one X-Request-ID for every request: pairing must not depend on it
        a = await ask([10, 90], "req-same", shadow=True)
        b = await ask([80], "req-same", shadow=True)
        c = await ask([20], "req-same", shadow=False)
        app.state.predlog.flush()
        await client.post("/v1/models/scorer/outcomes", json={"outcomes": [
            {"prediction_id": a[0], "label": False}, {"prediction_id": a[1], "label": True},
            {"prediction_id": b[0], "label": False}, {"prediction_id": c[0], "label": True}]})
        app.state.predlog.update_quality()
        quality = (await client.get("/v1/models/scorer/quality")).json()
        version = next(iter(quality["versions"]))
        shadows = app.state.predlog.store.labelled_shadows("scorer")
    assert sorted((r["input"]["amount"], r["label"]) for r in shadows) == [
        (10, False), (80, False), (90, True)]  # each copy judged by its own instance's outcome
    assert quality["versions"][version]["served_by"] == {"production": 4, "shadow": 3}
    assert quality["versions"][version]["labelled"] == 7
    shadowed = quality["shadowed"][version]
    assert shadowed["requests"] == 3
    # on the shadowed three: the positive (0.9) outranks both negatives (0.1, 0.8)
    assert shadowed["candidate"]["auc"] == shadowed["production"]["auc"] == 1.0


async def test_a_model_whose_features_fail_still_has_its_predictions_logged(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(Scorer, "drift_features", lambda self, instances, predictions: [])
    app = app_on(tmp_path)
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(5)] * 2})
        assert app.state.predlog.flush() == 2
        rows = app.state.predlog.store.read_predictions("scorer")
    assert [r["features"] for r in rows] == [None, None]


def test_a_round_that_raises_leaves_the_log_thread_running(tmp_path):
    import logging

    from prometheus_client import CollectorRegistry

    from kit.predlog import PredictionLog

    settings = ServiceSettings(model_dir=tmp_path / "models", log_flush_seconds=0.05,
                               quality_seconds=0)
    log = PredictionLog(Scorer, settings, CollectorRegistry(), logging.getLogger("t"))
    rounds = []

    def failing_flush():
        rounds.append(1)
        raise RuntimeError("a bug")

    log.flush = failing_flush
    log.start()
    try:
        deadline = time.monotonic() + 5
        while len(rounds) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rounds) >= 3 and log._thread.is_alive()
    finally:
        log.flush = lambda: 0
        log.stop()


def test_a_shadow_copy_names_production_ids_only_when_they_fit():
    def scope(value: bytes) -> dict:
        return {"headers": [(b"x-finfleet-shadow-of", value)]}

    assert shadow_of(scope(b"abc-0,,abc-2"), 3) == ("abc-0", None, "abc-2")
    assert shadow_of(scope(b"abc-0,abc-1"), 3) is None  # another length: unpaired, not wrong
    assert shadow_of(scope(b"x" * 65), 1) is None
    assert shadow_of({"headers": []}, 1) is None


async def test_the_writer_process_runs_behind_the_service_at_its_niceness(tmp_path):
    import os

    app = app_on(tmp_path, log_writer_nice=7)
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(5)]})
        assert app.state.predlog.flush() == 1  # the configuration frame has been read
        pid = app.state.predlog.writer.process.pid
        assert os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0) == 7


async def test_a_record_is_queued_as_one_line_and_written_with_numpy_values_and_features(
        tmp_path, monkeypatch):
    """The request side queues one JSON line a request (bytes: the garbage collector never
    walks them); the writer parses it: numpy values, keys and the sampled features arrive."""
    import gc

    import numpy as np

    monkeypatch.setattr(Scorer, "predict", lambda self, instances: [
        {"score": np.float32(i["amount"] / 100), "ref": i["ref"]} for i in instances])
    app = app_on(tmp_path, log_features_per_second=3 / FEATURE_BURST_SECONDS)  # 3 instances
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict",
                          json={"instances": [instance(50, "a"), instance(25, "b")]})
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(75, "c")]})
        queued = list(app.state.predlog.queue)
        assert [n for n, _ in queued] == [2, 1]
        assert all(type(line) is bytes for _, line in queued)
        gc.collect()
        assert not any(gc.is_tracked(entry) for entry in queued)
        assert app.state.predlog.flush() == 3
        rows = app.state.predlog.store.read_predictions("scorer")
    assert [(r["key"], r["output"]["score"]) for r in rows] == [("a", 0.5), ("b", 0.25),
                                                                ("c", 0.75)]
    assert [r["features"]["output.score"] for r in rows] == [0.5, 0.25, 0.75]
    assert [r["features"]["amount"] for r in rows] == [50, 25, 75]


async def test_features_that_are_not_json_leave_the_record_logged_without_them(
        tmp_path, monkeypatch):
    monkeypatch.setattr(Scorer, "drift_features", lambda self, instances, predictions: [
        {"amount": object()} for _ in instances])
    app = app_on(tmp_path)
    async with running_client(app) as client:
        await client.post("/v1/models/scorer:predict", json={"instances": [instance(5)]})
        assert app.state.predlog.flush() == 1
        rows = app.state.predlog.store.read_predictions("scorer")
    assert [r["features"] for r in rows] == [None]


async def test_a_flush_features_at_most_its_share_and_the_next_flush_goes_on(tmp_path,
                                                                             monkeypatch):
    """After a pause the bucket is full; one flush (of any number of chunks) spends at most
    FEATURE_FLUSH_SECONDS of it, so the GIL it holds stays bounded; the next flush goes on."""
    import kit.predlog as predlog

    monkeypatch.setattr(predlog, "FEATURE_CALL", 1)
    monkeypatch.setattr(predlog, "FLUSH_CHUNK", 3)
    app = app_on(tmp_path, log_features_per_second=2 / predlog.FEATURE_FLUSH_SECONDS)
    async with running_client(app) as client:  # a bucket of 24, 2 a flush
        featured = []
        for requests in (5, 3):
            for amount in range(requests):
                await client.post("/v1/models/scorer:predict",
                                  json={"instances": [instance(amount)]})
            assert app.state.predlog.flush() == requests  # two chunks each time
            rows = app.state.predlog.store.read_predictions("scorer")
            featured.append(sum(r["features"] is not None for r in rows))
    assert featured == [2, 4]
