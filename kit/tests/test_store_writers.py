"""Several log writer processes on one model folder (one per uvicorn worker): each writes and
rotates a current file of its own, so no row is lost or doubled, and outcomes find them all."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from kit.predlog_store import OutcomeItem, SqliteLogStore

ROOT = str(Path(__file__).resolve().parents[2])
TEXT = '{"y": "' + "z" * 200 + '"}'


def rows(prefix: str, start: int, n: int) -> list[tuple]:
    return [(f"{prefix}-{i}", None, time.time(), "m", "v1", "production", None, None,
             '{"x": 1}', TEXT, 0.1, None, None) for i in range(start, start + n)]


def ids_in(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT prediction_id FROM predictions")]
    finally:
        conn.close()


def rotated_by_slot(files: list[Path]) -> Counter:
    return Counter(p.name.rsplit("-", 1)[1] for p in files if p.name.startswith("predictions-"))


def fill(store: SqliteLogStore, prefix: str, start: int) -> int:
    """One row at a time until the store's current file holds one (its last write may have
    rotated, leaving it a fresh file); the next row's index. One row never fills 150 kB."""
    while not store._current["m"].execute("SELECT 1 FROM predictions").fetchone():
        store.write_predictions(rows(prefix, start, 1))
        start += 1
    return start


def wait_for(path: Path, procs: list[subprocess.Popen], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        for proc in procs:
            assert proc.poll() in (None, 0), proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.01)


def test_two_stores_in_one_process_write_their_own_files_and_lose_no_row(tmp_path):
    a, b = (SqliteLogStore(tmp_path / "all", max_bytes=150_000, keep_files=1000)
            for _ in range(2))
    for batch in range(30):
        a.write_predictions(rows("a", batch * 20, 20))
        b.write_predictions(rows("b", batch * 20, 20))
    ends = fill(a, "a", 600), fill(b, "b", 600)
    folder = tmp_path / "all" / "m"
    files = a.files("m")
    assert [p.name for p in files[:2]] == ["predictions.sqlite", "predictions.w1.sqlite"]
    rotated = files[2:]
    assert rotated == sorted(folder.glob("predictions-*.sqlite"), reverse=True)
    assert min(rotated_by_slot(rotated).values()) >= 3
    assert rotated_by_slot(rotated).keys() == {"0.sqlite", "1.sqlite"}
    read = a.read_predictions("m")
    assert Counter(r["prediction_id"] for r in read) == Counter(
        f"{w}-{i}" for w, end in zip("ab", ends, strict=True) for i in range(end))
    assert read == sorted(read, key=lambda r: r["ts"])  # oldest first across both writers
    assert len(ids_in(folder / "predictions.sqlite")) > 0
    assert all(i.startswith("b-") for i in ids_in(folder / "predictions.w1.sqlite"))
    a.close()
    b.close()

    c, d = (SqliteLogStore(tmp_path / "bounded", max_bytes=150_000, keep_files=2)
            for _ in range(2))
    for batch in range(30):
        c.write_predictions(rows("c", batch * 20, 20))
        d.write_predictions(rows("d", batch * 20, 20))
    files = c.files("m")
    assert len(files) == 2 + 2  # both writers' current files and the two newest rotated
    kept = Counter(r["prediction_id"] for r in c.read_predictions("m"))
    assert set(kept.values()) == {1} and 0 < len(kept) < 1200
    c.close()
    d.close()
    left = {p.name.removesuffix("-wal").removesuffix("-shm")
            for p in (tmp_path / "bounded" / "m").glob("predictions*")}
    assert left == {p.name for p in files}  # no -wal or -shm of a deleted file stays


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from kit.predlog_store import SqliteLogStore
from kit.tests.test_store_writers import fill, rows
folder, name, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = SqliteLogStore(folder, max_bytes=150_000, keep_files=10_000)
store.write_predictions(rows(name, 0, 1))  # claims a slot
(folder / f"ready-{{name}}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
for start in range(1, n, 10):
    store.write_predictions(rows(name, start, min(10, n - start)))
end = fill(store, name, n)  # a row in its current file, for an outcome
(folder / f"written-{{name}}").write_text(str(end + n))
while not (folder / "attached").exists():  # its connection stays open on its current file
    time.sleep(0.005)
for start in range(end, end + n, 10):  # rotates the file the outcome went into
    store.write_predictions(rows(name, start, 10))
store.close()
"""


def test_two_writer_processes_at_once_lose_no_row_and_outcomes_find_both(tmp_path):
    n = 2_000
    script = WRITER.format(root=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name, str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    try:
        for name in "ab":
            wait_for(tmp_path / f"ready-{name}", procs)
        (tmp_path / "go").touch()
        for name in "ab":
            wait_for(tmp_path / f"written-{name}", procs)
        service = SqliteLogStore(tmp_path)  # the outcome route's store: it never writes
        files = service.files("m")
        assert [p.name for p in files[:2]] == ["predictions.sqlite", "predictions.w1.sqlite"]
        rotated = files[2:]
        assert rotated_by_slot(rotated).keys() == {"0.sqlite", "1.sqlite"}
        assert min(rotated_by_slot(rotated).values()) >= 10  # while the other one writes
        in_rotated = ids_in(rotated[-1])[0]
        in_currents = [ids_in(files[0])[-1], ids_in(files[1])[-1]]
        results = service.attach_outcomes("m", [
            OutcomeItem(True, prediction_id=i) for i in (in_rotated, *in_currents)])
        assert [r["status"] for r in results] == ["stored"] * 3, results
        assert sorted(p.name for p in tmp_path.glob("m/.writer-*.lock")) == [
            ".writer-0.lock", ".writer-1.lock"]  # the service claimed no slot
        (tmp_path / "attached").touch()
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    found = Counter(r["prediction_id"] for r in service.read_predictions("m"))
    assert found == Counter(f"{w}-{i}" for w in "ab"
                            for i in range(int((tmp_path / f"written-{w}").read_text())))
    assert {r["prediction_id"] for r in service.labelled("m")} == {in_rotated, *in_currents}
    for current in ("predictions.sqlite", "predictions.w1.sqlite"):  # rotated since, outcome too
        assert not set(ids_in(tmp_path / "m" / current)) & set(in_currents)
    service.close()


def test_a_closed_or_dead_writer_frees_its_slot_for_the_next(tmp_path):
    folder = tmp_path / "m"
    a, b = SqliteLogStore(tmp_path), SqliteLogStore(tmp_path)
    a.write_predictions(rows("a", 0, 5))
    b.write_predictions(rows("b", 0, 5))
    a.close()
    c = SqliteLogStore(tmp_path)
    c.write_predictions(rows("c", 0, 5))
    assert sorted(ids_in(folder / "predictions.sqlite")) == [
        *(f"a-{i}" for i in range(5)), *(f"c-{i}" for i in range(5))]
    assert len(ids_in(folder / "predictions.w1.sqlite")) == 5
    c.close()

    died = subprocess.run([sys.executable, "-c", (
        f"import os, sys; sys.path.insert(0, {ROOT!r})\n"
        "from kit.predlog_store import SqliteLogStore\n"
        "from kit.tests.test_store_writers import rows\n"
        f"SqliteLogStore({str(tmp_path)!r}).write_predictions(rows('d', 0, 5))\n"
        "os._exit(0)  # no close: the kernel drops the slot's lock")], capture_output=True,
        text=True, timeout=120)
    assert died.returncode == 0, died.stderr
    e = SqliteLogStore(tmp_path)
    e.write_predictions(rows("e", 0, 5))
    assert {i[0] for i in ids_in(folder / "predictions.sqlite")} == {"a", "c", "d", "e"}
    assert not (folder / "predictions.w2.sqlite").exists()
    e.close()
    b.close()


def test_outcomes_on_an_empty_log_are_unknown_and_create_no_file(tmp_path):
    store = SqliteLogStore(tmp_path)
    items = [OutcomeItem(True, prediction_id="p0"), OutcomeItem(False, key="k")]
    results = store.attach_outcomes("m", items)
    assert [r["status"] for r in results] == ["unknown", "unknown"]
    assert results[0]["detail"] == "no logged prediction has prediction_id 'p0'"
    assert [p.name for p in tmp_path.rglob("*")] == ["m", ".lock"]  # no prediction file
    (tmp_path / "m" / ".lock").unlink()
    assert [r["status"] for r in store.attach_outcomes("m", items)] == ["unknown", "unknown"]
    assert list((tmp_path / "m").glob("predictions*")) == []
    assert store.read_predictions("m") == [] and store.labelled("m") == []
    store.close()


def row(pid: str, ts: float, served_by: str = "production", key: str | None = None,
        request_id: str | None = None, shadow_of: str | None = None) -> tuple:
    return (pid, request_id, ts, "m", "v1", served_by, key, None, '{"x": 1}', '{"y": 1}', 0.1,
            None, shadow_of)


def test_a_shadow_in_another_writers_file_still_meets_its_outcome(tmp_path):
    """A shadow copy is a request of its own: another worker may log it."""
    a, b = SqliteLogStore(tmp_path), SqliteLogStore(tmp_path)
    a.write_predictions([row("p1", 1.0)])
    b.write_predictions([row("s1", 1.1, served_by="shadow", shadow_of="p1"),
                         row("s2", 1.2, served_by="shadow", shadow_of="p-unlabelled")])
    service = SqliteLogStore(tmp_path)
    assert service.attach_outcomes("m", [OutcomeItem(label=1, prediction_id="p1")])[0][
        "status"] == "stored"
    shadows = service.labelled_shadows("m")
    assert [(s["prediction_id"], s["production_id"], s["label"]) for s in shadows] == [
        ("s1", "p1", 1)]


def test_outcomes_by_key_or_request_id_look_in_every_writers_file(tmp_path):
    a, b = SqliteLogStore(tmp_path), SqliteLogStore(tmp_path)
    a.write_predictions([row("old", 1.0, key="t1"), row("r-a", 1.0, request_id="r")])
    b.write_predictions([row("new", 2.0, key="t1"), row("r-b", 2.0, request_id="r")])
    found = SqliteLogStore(tmp_path).attach_outcomes("m", [
        OutcomeItem(label=1, key="t1"), OutcomeItem(label=1, request_id="r")])
    assert found[0] == {"status": "stored", "prediction_id": "new"}  # scored again: newest
    assert found[1]["status"] == "unknown" and "several predictions" in found[1]["detail"]
    assert [r["prediction_id"] for r in SqliteLogStore(tmp_path).labelled("m")] == ["new"]


def test_a_current_file_no_writer_holds_is_rotated_by_the_next_writer(tmp_path):
    """A service that ran two workers and now runs one: the second's file joins retention."""
    a, b = SqliteLogStore(tmp_path, keep_files=1), SqliteLogStore(tmp_path, keep_files=1)
    a.write_predictions([row("a1", 1.0)])
    b.write_predictions([row("b1", 1.1)])
    assert [p.name for p in a.files("m")] == ["predictions.sqlite", "predictions.w1.sqlite"]
    a.close()
    b.close()
    again = SqliteLogStore(tmp_path, keep_files=1)
    again.write_predictions([row("a2", 2.0)])  # slot 0 again; slot 1's file has no writer
    names = [p.name for p in again.files("m")]
    assert names[0] == "predictions.sqlite" and len(names) == 2
    assert names[1].startswith("predictions-") and names[1].endswith("-1.sqlite")
    assert [r["prediction_id"] for r in again.read_predictions("m")] == ["a1", "b1", "a2"]
    held = SqliteLogStore(tmp_path)
    held.write_predictions([row("h1", 3.0)])  # a live writer's file is never taken
    fresh = SqliteLogStore(tmp_path)
    fresh.write_predictions([row("f1", 4.0)])
    assert {p.name for p in fresh.files("m")} >= {"predictions.sqlite", "predictions.w1.sqlite",
                                                  "predictions.w2.sqlite"}
