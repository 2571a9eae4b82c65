"""Where the prediction log lives: local SQLite files (the embedded default) or one PostgreSQL
server (compose, k8s: several replicas write to one place, the monitor reads one place).

Both backends keep the same two tables, so one set of queries serves both, and a person reads
either with the stock client (`sqlite3`, `psql`):

- `predictions`: one row per logged prediction (id, request id, time, model, version,
  served-by, the model's own key for it, hashed user, input, output, latency, and for a sample
  the model's drift features: what the monitor compares with the reference profile);
- `outcomes`: the label that later arrived for a prediction, keyed by its id, so the join
  prediction → outcome is one primary-key lookup.

SQLite over JSONL/Parquet because outcomes must find their prediction by id (an index, not a
scan of every file) and be written durably one at a time; it ships with Python and its CLI reads
the files while the service writes them (WAL). The files rotate: past `max_bytes` a current
file is renamed with its UTC time and a fresh one started; only the newest `keep_files` rotated
ones stay, so the log is size-bounded. An outcome is written into the file that holds its
prediction.

Each log writer process (kit/predlog_writer.py; one per uvicorn worker, so several may share a
folder) has a current file of its own, a slot held by a `flock` on `<model>/.writer-<k>.lock`:
`predictions.sqlite` for slot 0, `predictions.w<k>.sqlite` after. No two writers ever hold a
connection on one file, because a file renamed, or its WAL removed, under another writer's open
connection loses that writer's rows. The service (the outcome route) and the readers open any
file only for the call: rotation and outcome writes hold an exclusive `flock` on
`<model>/.lock`, readers a shared one, so a file is never renamed under an outcome or a read.

The reader API (`read_predictions`, `labelled`) is what the drift monitor and retraining use.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

COLUMNS = ("prediction_id", "request_id", "ts", "model", "version", "served_by", "key",
           "user_hash", "input", "output", "latency_ms", "features", "shadow_of")
BUSY_SECONDS = 10.0  # how long a statement waits on another connection's lock
JSON_COLUMNS = frozenset({"input", "output", "label", "features"})


@dataclass(frozen=True)
class Dialect:
    """What differs between the two engines' SQL: placeholders and the JSON column type."""

    param: str
    json_param: str
    json_type: str
    float_type: str


SQLITE = Dialect("?", "?", "TEXT", "REAL")
POSTGRES = Dialect("%s", "%s::jsonb", "JSONB", "DOUBLE PRECISION")


def schema(d: Dialect) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS predictions (
            prediction_id TEXT PRIMARY KEY, request_id TEXT, ts {d.float_type} NOT NULL,
            model TEXT NOT NULL, version TEXT NOT NULL, served_by TEXT NOT NULL, key TEXT,
            user_hash TEXT, input {d.json_type}, output {d.json_type},
            latency_ms {d.float_type}, features {d.json_type}, shadow_of TEXT)""",
        "CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions (model, ts)",
        "CREATE INDEX IF NOT EXISTS predictions_request ON predictions (request_id)",
        "CREATE INDEX IF NOT EXISTS predictions_key ON predictions (model, key) "
        "WHERE key IS NOT NULL",
        f"""CREATE TABLE IF NOT EXISTS outcomes (
            prediction_id TEXT PRIMARY KEY, model TEXT NOT NULL, label {d.json_type} NOT NULL,
            ts {d.float_type} NOT NULL, source TEXT NOT NULL)""",
    ]


def add_features_column(d: Dialect, columns: set[str]) -> list[str]:
    """A log written before drift features (logged since 2026-12) gains the column, and one
    written before shadow copies named production's prediction (`shadow_of`) gains that."""
    added = [] if "features" in columns else [
        f"ALTER TABLE predictions ADD COLUMN features {d.json_type}"]
    if "shadow_of" not in columns:
        added.append("ALTER TABLE predictions ADD COLUMN shadow_of TEXT")
    return added


def insert_predictions(d: Dialect) -> str:
    values = ", ".join(d.json_param if c in JSON_COLUMNS else d.param for c in COLUMNS)
    return (f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({values}) "
            "ON CONFLICT (prediction_id) DO NOTHING")


def upsert_outcome(d: Dialect) -> str:
    p = d.param
    return (f"INSERT INTO outcomes (prediction_id, model, label, ts, source) "
            f"VALUES ({p}, {p}, {d.json_param}, {p}, {p}) ON CONFLICT (prediction_id) DO UPDATE "
            "SET label = excluded.label, ts = excluded.ts, source = excluded.source")


def find_prediction(d: Dialect, by: str) -> str:
    """By id; by request id or key, never a shadow copy (it shares both with the answer the
    caller got), and by key the newest (a transaction scored again keeps its id)."""
    where = (f"SELECT prediction_id, ts FROM predictions WHERE model = {d.param} "
             f"AND {by} = {d.param}")
    if by == "prediction_id":
        return where
    order = " ORDER BY ts DESC LIMIT 1" if by == "key" else " LIMIT 2"
    return f"{where} AND served_by <> 'shadow'{order}"


def select_predictions(d: Dialect, until: bool) -> str:
    p = d.param
    cols = ", ".join(f"p.{c}" for c in COLUMNS)
    bound = f" AND p.ts < {p}" if until else ""
    return (f"SELECT {cols} FROM predictions p WHERE p.model = {p} AND p.ts >= {p}{bound} "
            "ORDER BY p.ts")


def select_labelled(d: Dialect) -> str:
    p = d.param
    cols = ", ".join(f"p.{c}" for c in COLUMNS)
    return (f"SELECT {cols}, o.label, o.ts AS labelled_at, o.source FROM outcomes o "
            f"JOIN predictions p ON p.prediction_id = o.prediction_id "
            f"WHERE o.model = {p} AND p.ts >= {p} ORDER BY p.ts")


def select_labelled_shadows(d: Dialect) -> str:
    """Shadow copies whose production prediction got an outcome, with that label and the
    production prediction's id. A copy names the production prediction it copies
    (`shadow_of`, the id the gateway sent with it), never by the caller's X-Request-ID, which
    a caller may reuse across requests."""
    p = d.param
    cols = ", ".join(f"s.{c}" for c in COLUMNS)
    return (f"SELECT {cols}, o.label, o.prediction_id AS production_id FROM predictions s "
            f"JOIN outcomes o ON o.prediction_id = s.shadow_of AND o.model = s.model "
            f"WHERE s.model = {p} AND s.served_by = 'shadow' AND s.ts >= {p} ORDER BY s.ts")


def select_shadows(d: Dialect) -> str:
    p = d.param
    return (f"SELECT {', '.join(COLUMNS)} FROM predictions WHERE model = {p} "
            f"AND served_by = 'shadow' AND shadow_of IS NOT NULL AND ts >= {p}")


SHADOW_NAMES = (*COLUMNS, "label", "production_id")


class LogUnavailable(RuntimeError):
    """The backend could not be reached or written (the outcome route answers 503)."""


@dataclass
class OutcomeItem:
    """One outcome to attach: found by exactly one of prediction id, request id or the model's
    own key (anomaly: the transaction id)."""

    label: Any
    prediction_id: str | None = None
    request_id: str | None = None
    key: str | None = None
    source: str = "api"

    def lookup(self) -> tuple[str, str]:
        for column in ("prediction_id", "request_id", "key"):
            value = getattr(self, column)
            if value is not None:
                return column, value
        raise ValueError("an outcome names a prediction_id, request_id or key")


def resolved(rows: list[tuple], column: str, value: str) -> tuple[str | None, str | None]:
    """(prediction id, None) for exactly one match, else (None, why not)."""
    if len(rows) == 1:
        return rows[0][0], None
    if not rows:
        return None, f"no logged prediction has {column} {value!r}"
    return None, f"{column} {value!r} names several predictions; give a prediction_id"


def decoded(row: Iterable[Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: (orjson.loads(value) if name in JSON_COLUMNS and isinstance(value, str | bytes)
                   else value) for name, value in zip(names, row, strict=True)}


LABELLED_NAMES = (*COLUMNS, "label", "labelled_at", "source")


class LogStore:
    """The operations both backends offer (writer thread, outcome route, readers)."""

    def write_predictions(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    def attach_outcomes(self, model: str, items: list[OutcomeItem]) -> list[dict[str, Any]]:
        """Each item's result, in order: `{"status": "stored", "prediction_id"}` once durably
        written, or `{"status": "unknown", "detail"}`. Raises LogUnavailable."""
        raise NotImplementedError

    def read_predictions(self, model: str, since: float = 0.0,
                         until: float | None = None) -> list[dict[str, Any]]:
        """The model's logged predictions with `since <= ts < until` (unix seconds), oldest
        first, input and output decoded."""
        raise NotImplementedError

    def labelled(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        """The model's predictions since `since` that have an outcome, with `label`,
        `labelled_at` and `source`, oldest first."""
        raise NotImplementedError

    def labelled_shadows(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        """Shadow predictions since `since` of instances whose production answer has an
        outcome, each with that `label`: how the candidate would have done (#19)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (the store reconnects on next use)."""


class SqliteLogStore(LogStore):
    """Files `<root>/<model>/`: each writer's current one (`predictions.sqlite`,
    `predictions.w<k>.sqlite`) and the rotated `predictions-<UTC>-<ns>-<k>.sqlite`. Writers on
    one machine; replicas on several share the PostgreSQL backend instead."""

    CURRENT = "predictions.sqlite"
    ROTATED = "predictions-*.sqlite"

    def __init__(self, root: Path, max_bytes: int = 64 << 20, keep_files: int = 4) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.keep_files = keep_files
        self._lock = threading.Lock()
        self._current: dict[str, sqlite3.Connection] = {}
        self._slots: dict[str, tuple[int, IO[str]]] = {}  # model -> (slot, its held lock file)

    def folder(self, model: str) -> Path:
        return self.root / model

    def current_file(self, model: str, slot: int) -> Path:
        return self.folder(model) / (self.CURRENT if slot == 0 else f"predictions.w{slot}.sqlite")

    def files(self, model: str) -> list[Path]:
        """The model's files: every writer's current one (by slot), then the rotated ones,
        newest first."""
        folder = self.folder(model)
        current = sorted((path for path in folder.glob("predictions*.sqlite")
                          if _slot_of(path) is not None), key=_slot_of)
        return current + sorted(folder.glob(self.ROTATED), reverse=True)

    def _open(self, path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_SECONDS, check_same_thread=False,
                               isolation_level=None)
        _use_wal(conn)
        # Predictions are best effort (a failed flush is counted and dropped): NORMAL survives
        # a crash of the process, and spares each flush an fsync. Outcomes commit with FULL.
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in schema(SQLITE):
            conn.execute(statement)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        for statement in add_features_column(SQLITE, columns):
            conn.execute(statement)
        return conn

    def _slot(self, model: str) -> int:
        """This store's writer slot for the model: the lowest k whose `.writer-<k>.lock` no
        other store holds, kept until close() or the process's death (a restarted writer most
        often takes its slot, and file, back)."""
        held = self._slots.get(model)
        if held is None:
            self.folder(model).mkdir(parents=True, exist_ok=True)
            for k in itertools.count():
                lock = open(self._slot_lock(model, k), "a")  # noqa: SIM115  (held open)
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock.close()
                    continue
                held = self._slots[model] = (k, lock)
                break
        return held[0]

    def _slot_lock(self, model: str, slot: int) -> Path:
        return self.folder(model) / f".writer-{slot}.lock"

    def _writer(self, model: str) -> sqlite3.Connection:
        conn = self._current.get(model)
        if conn is None:
            slot = self._slot(model)
            with self._files_locked(model):  # created with its tables before a reader lists it
                self._rotate_orphans(model, slot)
                conn = self._current[model] = self._open(self.current_file(model, slot))
        return conn

    def _rotate_orphans(self, model: str, own: int) -> None:
        """Rotate every current file whose slot no writer holds (a service now running fewer
        workers, a worker that died and whose writer took a lower slot), so retention reaches
        it too. Its WAL is checkpointed first: a writer that died may have left frames there.
        Under the files' exclusive lock, holding that slot's lock while it moves."""
        for path in self.files(model):
            slot = _slot_of(path)
            if slot is None or slot == own:
                continue
            with open(self._slot_lock(model, slot), "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                conn = sqlite3.connect(path, timeout=BUSY_SECONDS)
                try:
                    busy, frames, copied = conn.execute(
                        "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    conn.close()
                if not busy and frames == copied:
                    path.rename(_rotated_name(path, slot))

    def write_predictions(self, rows: list[tuple]) -> None:
        by_model: dict[str, list[tuple]] = {}
        for row in rows:
            by_model.setdefault(row[3], []).append(row)
        with self._lock:
            for model, batch in by_model.items():
                conn = self._writer(model)
                with _transaction(conn):
                    conn.executemany(insert_predictions(SQLITE), batch)
                self._rotate_if_full(model)

    @contextlib.contextmanager
    def _files_locked(self, model: str, shared: bool = False) -> Iterator[None]:
        """The model's files across processes: exclusive for rotation and outcome writes,
        shared for readers (a file is never renamed under a read). A reader of a folder it
        may not write reads unlocked."""
        folder = self.folder(model)
        if not shared:
            folder.mkdir(parents=True, exist_ok=True)
        try:
            lock = open(folder / ".lock", "a")  # noqa: SIM115  (held across the yield)
        except OSError:
            if not shared:
                raise
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _rotate_if_full(self, model: str) -> None:
        slot = self._slot(model)
        current = self.current_file(model, slot)
        wal = current.with_name(current.name + "-wal")
        size = sum(p.stat().st_size for p in (current, wal) if p.exists())
        if size < self.max_bytes:
            return
        with self._files_locked(model):
            self._rotate(model, slot, current, wal)

    def _rotate(self, model: str, slot: int, current: Path, wal: Path) -> None:
        """Only this writer's own file (no other process has a lasting connection on it). The
        slot in the name keeps two writers rotating in the same nanosecond apart. The fresh
        file is opened at once: a writer's current file exists from its first write on."""
        conn = self._current[model]
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy or frames != copied:  # frames not yet in the file: renaming would lose them
            return  # tried again after the next write
        self._current.pop(model)
        conn.close()
        current.rename(_rotated_name(current, slot))
        with contextlib.suppress(FileNotFoundError):
            wal.unlink()
        for old in sorted(self.folder(model).glob(self.ROTATED), reverse=True)[self.keep_files:]:
            for part in (old, old.with_name(old.name + "-wal"), old.with_name(old.name + "-shm")):
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
        with contextlib.suppress(sqlite3.Error, OSError):  # the rows are in: the next write
            self._current[model] = self._open(current)  # opens it again if this failed

    def attach_outcomes(self, model: str, items: list[OutcomeItem]) -> list[dict[str, Any]]:
        """Under the files' exclusive lock, each file opened for this call only and closed
        before the lock is released: the service claims no writer slot, and a writer may
        rotate its file as soon as the lock is free. No file yet: each item is unknown (the
        lock is still taken, so a folder that cannot be written fails as before)."""
        with self._lock, self._files_locked(model):
            return self._attach(model, items, self.files(model))

    def _attach(self, model: str, items: list[OutcomeItem],
                paths: list[Path]) -> list[dict[str, Any]]:
        results = []
        now = time.time()
        opened: dict[Path, sqlite3.Connection] = {}
        try:
            for item in items:
                column, value = item.lookup()
                matches: list[tuple[tuple, sqlite3.Connection]] = []
                for path in paths:  # every file: writers' files cover the same times
                    conn = opened.get(path)
                    if conn is None:
                        conn = opened[path] = self._open(path)
                    matches += [(row, conn) for row in conn.execute(
                        find_prediction(SQLITE, column), (model, value)).fetchall()]
                    if matches and column == "prediction_id":
                        break  # ids are unique
                if column == "key":  # a transaction scored again: its newest prediction
                    matches = sorted(matches, key=lambda match: match[0][1])[-1:]
                found, why = resolved([row for row, _ in matches], column, value)
                if found is not None:
                    conn = matches[0][1]
                    with _durable(conn), _transaction(conn):
                        conn.execute(upsert_outcome(SQLITE), (
                            found, model, orjson.dumps(item.label).decode(), now,
                            item.source))
                results.append({"status": "stored", "prediction_id": found} if found
                               else {"status": "unknown", "detail": why})
        finally:
            for conn in opened.values():
                conn.close()
        return results

    def _each_file(self, model: str) -> Iterator[sqlite3.Connection]:
        if not self.folder(model).is_dir():
            return
        with self._files_locked(model, shared=True):
            for path in reversed(self.files(model)):  # oldest first
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                       timeout=BUSY_SECONDS)
                try:
                    yield conn
                finally:
                    conn.close()

    def read_predictions(self, model: str, since: float = 0.0,
                         until: float | None = None) -> list[dict[str, Any]]:
        params = (model, since) if until is None else (model, since, until)
        out = []
        for conn in self._each_file(model):
            rows = conn.execute(select_predictions(SQLITE, until is not None), params)
            out.extend(decoded(row, COLUMNS) for row in rows)
        return _by_time(out)

    def labelled(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        out = []
        for conn in self._each_file(model):
            rows = conn.execute(select_labelled(SQLITE), (model, since))
            out.extend(decoded(row, LABELLED_NAMES) for row in rows)
        return _by_time(out)

    def labelled_shadows(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        """Joined here, not in SQL: a shadow copy is a request of its own, so it is often in
        another writer's file (or a later rotated one) than the production prediction whose
        file holds the outcome."""
        shadows, labels = [], {}
        for conn in self._each_file(model):
            shadows += [decoded(row, COLUMNS) for row in conn.execute(
                select_shadows(SQLITE), (model, since))]
            labels.update(conn.execute(
                "SELECT prediction_id, label FROM outcomes WHERE model = ?", (model,)))
        return _by_time([{**row, "label": orjson.loads(labels[row["shadow_of"]]),
                          "production_id": row["shadow_of"]}
                         for row in shadows if row["shadow_of"] in labels])

    def close(self) -> None:
        """Connections closed and writer slots released (the next write claims one again)."""
        with self._lock:
            for conn in self._current.values():
                conn.close()
            self._current.clear()
            for _, lock in self._slots.values():
                lock.close()
            self._slots.clear()


def _slot_of(path: Path) -> int | None:
    """The writer slot a current file belongs to; None for a rotated one."""
    if path.name == SqliteLogStore.CURRENT:
        return 0
    found = re.fullmatch(r"predictions\.w(\d+)\.sqlite", path.name)
    return int(found[1]) if found else None


def _rotated_name(current: Path, slot: int) -> Path:
    """`predictions-<UTC>-<ns>-<slot>.sqlite`: sorted by time, apart across writers."""
    ns = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 10**9))
    return current.with_name(f"predictions-{stamp}-{ns % 10**9:09d}-{slot}.sqlite")


def _by_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first across files: several writers' files cover the same times (each file's
    rows come sorted, so this merges runs)."""
    rows.sort(key=lambda row: row["ts"])
    return rows


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a file to WAL, waiting as the busy timeout would. The switch takes the file
    exclusively and SQLite runs no busy handler for it, so the writer process and the outcome
    route opening a fresh file at once saw "database is locked" at once (a 503 to an outcome).
    WAL stays in the file, so the mode is read first and an opened file takes no lock. Each
    try waits on other locks only for what is left of the budget, then the connection gets
    its full busy timeout back."""
    deadline, pause = time.monotonic() + BUSY_SECONDS, 0.001
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or left <= 0:
                raise
        time.sleep(min(pause * random.uniform(0.5, 1.5), left))  # apart, not in step
        pause = min(pause * 2, 0.05)
        conn.execute(f"PRAGMA busy_timeout={max(1, int((deadline - time.monotonic()) * 1000))}")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    if mode != "wal":  # refused for good (an in-memory file): not worth waiting on
        raise sqlite3.OperationalError(f"the log's file stays in {mode} mode, not WAL")


@contextlib.contextmanager
def _durable(conn: sqlite3.Connection) -> Iterator[None]:
    """Commits inside are synced to disk before they return (an acknowledged outcome survives
    a power loss, not only a crash)."""
    conn.execute("PRAGMA synchronous=FULL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=NORMAL")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class PostgresLogStore(LogStore):
    """One PostgreSQL database for every replica of every service. The connection is opened
    lazily and dropped on any error, so a server that goes away and comes back is picked up
    again by the next write, with no restart."""

    def __init__(self, url: str, connect_timeout: float = 3.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn = None

    def _connection(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self.url, autocommit=True,
                                   connect_timeout=max(1, round(self.connect_timeout)),
                                   options="-c statement_timeout=5000")
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7414)")  # replicas start together
                for statement in schema(POSTGRES):
                    conn.execute(statement)
                columns = {row[0] for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'predictions' AND table_schema = current_schema()")}
                for statement in add_features_column(POSTGRES, columns):
                    conn.execute(statement)
            self._conn = conn
        return self._conn

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                self._drop()
                raise LogUnavailable(f"the prediction log's PostgreSQL failed: {exc}") from exc

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def write_predictions(self, rows: list[tuple]) -> None:
        with self._session() as conn, conn.cursor() as cur:
            cur.executemany(insert_predictions(POSTGRES), rows)

    def attach_outcomes(self, model: str, items: list[OutcomeItem]) -> list[dict[str, Any]]:
        results = []
        now = time.time()
        with self._session() as conn:
            for item in items:
                column, value = item.lookup()
                rows = conn.execute(find_prediction(POSTGRES, column), (model, value)).fetchall()
                found, why = resolved(rows, column, value)
                if found is not None:
                    conn.execute(upsert_outcome(POSTGRES), (
                        found, model, orjson.dumps(item.label).decode(), now, item.source))
                results.append({"status": "stored", "prediction_id": found} if found
                               else {"status": "unknown", "detail": why})
        return results

    def read_predictions(self, model: str, since: float = 0.0,
                         until: float | None = None) -> list[dict[str, Any]]:
        params = (model, since) if until is None else (model, since, until)
        with self._session() as conn:
            rows = conn.execute(select_predictions(POSTGRES, until is not None), params)
            return [decoded(row, COLUMNS) for row in rows]

    def labelled(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(select_labelled(POSTGRES), (model, since))
            return [decoded(row, LABELLED_NAMES) for row in rows]

    def labelled_shadows(self, model: str, since: float = 0.0) -> list[dict[str, Any]]:
        with self._session() as conn:
            rows = conn.execute(select_labelled_shadows(POSTGRES), (model, since))
            return [decoded(row, SHADOW_NAMES) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._drop()


def open_log_store(url: str | None, directory: Path, max_bytes: int = 64 << 20,
                   keep_files: int = 4) -> LogStore:
    """PostgreSQL when `url` is a postgres(ql):// URL, else the SQLite files under
    `directory`. For readers too: `open_log_store(None, Path("logs/predictions"))`."""
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"the prediction log URL must be postgresql://...; got {url!r}")
        return PostgresLogStore(url)
    return SqliteLogStore(directory, max_bytes, keep_files)
