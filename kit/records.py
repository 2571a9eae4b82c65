"""Whole-batch checks of flat records (JSON objects sharing one set of keys), column by column.

Why: checking each field of each record in Python costs microseconds a field, and a batch of 32
loan applications has hundreds of them. A valid batch passes these checks in a few C-level
passes; any failure only answers "not sure", and the caller runs its per-record checks, which
name each problem. So these never produce an error message of their own.
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

# Integers beyond this may round to a float equal to a bound they exceed: left to the caller.
_EXACT_INT = 2.0**53


def gather(records: list[Any], names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Each record's values of `names`, as one tuple a record (KeyError when one is missing)."""
    if len(names) > 1:
        return list(map(itemgetter(*names), records))
    if names:
        return [(record[names[0]],) for record in records]
    return [() for _ in records]


def columns(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Gathered rows turned into one tuple a name."""
    return list(zip(*rows, strict=True))


def uniform_dicts(records: list[Any], keys: int) -> bool:
    """Whether every record is a dict of exactly `keys` keys: then `gather` of that many names
    raising no KeyError means each record holds those names and nothing else."""
    return set(map(type, records)) == {dict} and set(map(len, records)) == {keys}


def numbers_within(rows: list[tuple[Any, ...]], minimum: np.ndarray, maximum: np.ndarray
                   ) -> np.ndarray | None:
    """The rows as a float64 matrix when every value is a JSON number (int or float, never
    bool), finite and within its column's [minimum, maximum] (±inf: unbounded); None otherwise."""
    types = set(map(type, chain.from_iterable(rows)))
    if not types <= {int, float}:
        return None
    try:
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(minimum))
    except OverflowError:
        return None
    if not np.isfinite(matrix).all():
        return None
    if int in types and matrix.size and np.abs(matrix).max() >= _EXACT_INT:
        return None
    if not ((matrix >= minimum).all() and (matrix <= maximum).all()):
        return None
    return matrix


def all_in(values: tuple[Any, ...], allowed: frozenset[str]) -> bool:
    """Whether every value is one of `allowed` (strings: nothing else equals one)."""
    try:
        return set(values) <= allowed
    except TypeError:  # an unhashable value: a list or an object
        return False
