"""Per-user and per-merchant state behind the features, kept in the kit's record store.

Keys: `user:<id>` the user's most recent transactions (at most `max_history`) as parallel lists
sorted by time, one read and one write per scored transaction;
`merchant:<id>` daily transaction counts and its confirmed frauds; `tx:<id>` where a scored
transaction happened, so feedback can name only the transaction id. Feedback itself goes to a
separate, longer log (`feedback:<yyyy-mm-dd>`) that training reads.

Every write is an atomic read-modify-write (`RecordStore.update`), so concurrent requests for one
user or merchant lose nothing, and every key has a time to live, so a store that fills is never
full of the forgotten. `features` reads the same state and writes nothing (shadow predictions).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from datetime import UTC, datetime
from typing import Any

from kit.stores import RecordStore
from services.anomaly.features import (
    DAY,
    FRAUD_DELAY_DAYS,
    FRAUD_WINDOWS_DAYS,
    AmountPrior,
    Tx,
    transaction_features,
)

KEEP_DAYS = FRAUD_DELAY_DAYS + max(FRAUD_WINDOWS_DAYS) + 1
MAX_FRAUDS_PER_MERCHANT = 500
# Retention: a profile outlives a user's pause, a merchant's counts their longest window; a
# transaction can get feedback for 90 days; labels and the feedback log serve retraining.
PROFILE_TTL = 180 * DAY
MERCHANT_TTL = KEEP_DAYS * DAY
TRANSACTION_TTL = 90 * DAY
FEEDBACK_TTL = 400 * DAY


class ProfileStore:
    """Reads what a transaction's features need and records the transaction afterwards
    (`observe`), or only reads (`features`)."""

    def __init__(self, store: RecordStore, feedback_log: RecordStore | None = None,
                 max_history: int = 500) -> None:
        self.store = store
        self.feedback_log = feedback_log or store
        self.max_history = max_history

    def observe(self, user_id: str, tx: Tx, prior: AmountPrior) -> list[float]:
        """Features of `tx` from the profile as it stood, then `tx` joins the profile (in one
        atomic update: the features see every transaction stored before this one)."""
        merchant_doc = self.store.get(f"merchant:{tx.merchant}")
        seen: dict[str, Any] = {}

        def add(profile: dict[str, list] | None) -> dict[str, list] | None:
            seen["features"] = transaction_features(tx, profile, merchant_doc, prior)
            seen["retry"] = tx.tx_id is not None and bool(profile) and tx.tx_id in profile["i"]
            return None if seen["retry"] else self._with(profile, tx)

        self.store.update(f"user:{user_id}", add, PROFILE_TTL)
        if seen["retry"]:
            return seen["features"]  # a retried transaction is scored again, not counted twice
        self._count_at_merchant(tx.merchant, tx.t)
        if tx.tx_id is not None:
            self.store.put(f"tx:{tx.tx_id}", {"u": user_id, "m": tx.merchant, "t": tx.t},
                           TRANSACTION_TTL)
        return seen["features"]

    def features(self, user_id: str, tx: Tx, prior: AmountPrior) -> list[float]:
        """Features of `tx` from the profile as it stands, recording nothing: no profile update,
        no merchant count, no `tx:` record (so feedback cannot name it). For a new transaction
        they are what `observe` would answer now. A transaction already in the profile (the
        shadow copy of a request production answered first) is scored without itself, as
        `observe` scored it when it joined. Each transaction of a batch is read alone: one not
        yet recorded is not seen by the others."""
        profile = self.profile(user_id)
        if tx.tx_id is not None and profile and tx.tx_id in profile["i"]:
            at = profile["i"].index(tx.tx_id)
            profile = {key: values[:at] + values[at + 1:] for key, values in profile.items()}
        return transaction_features(tx, profile, self.merchant(tx.merchant), prior)

    def _with(self, profile: dict[str, list] | None, tx: Tx) -> dict[str, list]:
        """The profile with `tx` inserted in time order, oldest dropped beyond `max_history`."""
        profile = profile or {"t": [], "a": [], "m": [], "c": [], "i": []}
        at = bisect_right(profile["t"], tx.t)
        for key, value in (("t", tx.t), ("a", tx.amount), ("m", tx.merchant),
                           ("c", tx.category), ("i", tx.tx_id)):
            profile[key].insert(at, value)
            if len(profile[key]) > self.max_history:
                del profile[key][0]
        return profile

    def profile(self, user_id: str) -> dict[str, list] | None:
        return self.store.get(f"user:{user_id}")

    def transaction(self, tx_id: str) -> dict[str, Any] | None:
        return self.store.get(f"tx:{tx_id}")

    def merchant(self, merchant: str) -> dict[str, Any] | None:
        return self.store.get(f"merchant:{merchant}")

    def _count_at_merchant(self, merchant: str, t: float) -> None:
        day = int(t // DAY)

        def count(doc: dict[str, Any] | None) -> dict[str, Any]:
            doc = doc or {"days": {}, "fraud": {}}
            doc["days"][str(day)] = doc["days"].get(str(day), 0) + 1
            if len(doc["days"]) > KEEP_DAYS:
                doc["days"] = {d: n for d, n in doc["days"].items() if int(d) > day - KEEP_DAYS}
            return doc

        self.store.update(f"merchant:{merchant}", count, MERCHANT_TTL)

    def mark(self, merchant: str, tx_id: str, tx_time: float, fraud: bool, reported: float) -> None:
        """Add (or withdraw) a confirmed fraud at a merchant; the fraud-rate features read it."""

        def change(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            doc = doc or {"days": {}, "fraud": {}}
            if fraud:
                doc["fraud"][tx_id] = [tx_time, reported]
                if len(doc["fraud"]) > MAX_FRAUDS_PER_MERCHANT:
                    newest = sorted(doc["fraud"].items(), key=lambda kv: kv[1][0])
                    doc["fraud"] = dict(newest[-MAX_FRAUDS_PER_MERCHANT:])
            elif doc["fraud"].pop(tx_id, None) is None:
                return None
            return doc

        self.store.update(f"merchant:{merchant}", change, MERCHANT_TTL)

    def record_feedback(self, tx_id: str, label: str, note: str | None = None,
                        now: float | None = None) -> dict[str, Any] | None:
        """Store feedback on a scored transaction; None when the transaction is unknown."""
        seen = self.transaction(tx_id)
        if seen is None:
            return None
        reported = time.time() if now is None else now
        entry = {"transaction_id": tx_id, "label": label, "user_id": seen["u"],
                 "merchant": seen["m"], "tx_time": seen["t"], "reported_at": reported,
                 "note": note}
        day = datetime.fromtimestamp(reported, UTC).strftime("%Y-%m-%d")
        self.feedback_log.append(f"feedback:{day}", [entry], FEEDBACK_TTL)
        self.store.put(f"label:{tx_id}", entry, FEEDBACK_TTL)
        self.mark(seen["m"], tx_id, seen["t"], label == "fraud", reported)
        return entry

    def label(self, tx_id: str) -> dict[str, Any] | None:
        return self.store.get(f"label:{tx_id}")

    def feedback(self, day: str) -> list[dict[str, Any]]:
        """The feedback received on one UTC day (`yyyy-mm-dd`), oldest first."""
        return self.feedback_log.recent(f"feedback:{day}")
