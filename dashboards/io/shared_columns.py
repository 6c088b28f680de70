"""Columns computed once per process and shared by every session that shows the same rows.

Every open map of the same filter would otherwise format and project the same sites, communes and
routes again, for each session. The cache is keyed by the rows themselves (a digest of the frame), so
one owner's rows are never served for another's and a write that changes the rows changes the key;
bounded to the newest SHARED_ENTRIES; its arrays are made read-only, since several sessions' Bokeh
sources hold them. Like the live feed, it is a process-wide piece the apps use, kept here and not in
the apps, which hold no state of their own beyond their session.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable

import numpy as np
import pandas as pd

_SHARED: OrderedDict = OrderedDict()
_SHARED_LOCK = threading.Lock()
SHARED_ENTRIES = 64


def fingerprint(frame: pd.DataFrame) -> tuple:
    """What a frame holds, as a hashable key: two sessions reading the same rows (the same filter, or the
    same cache generation of a read) get the same key, and a write that changes the rows changes it."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return tuple(frame.columns), len(frame), hashlib.blake2b(hashed.tobytes(), digest_size=16).digest()


def shared(kind: str, frame: pd.DataFrame, build: Callable[[pd.DataFrame], dict]) -> dict:
    """A layer's columns built once per process for the same rows and shared by every session: every
    open map of the same filter would otherwise format and project the same sites again. Keyed by the
    rows themselves, so one owner's rows are never served for another's, and bounded (the newest
    SHARED_ENTRIES). The columns' arrays are made read-only, since several sessions' sources hold them."""
    key = (kind, fingerprint(frame))
    with _SHARED_LOCK:
        if key in _SHARED:
            _SHARED.move_to_end(key)
            return _SHARED[key]
    value = build(frame)
    for column in _iter_columns(value):
        if isinstance(column, np.ndarray):
            column.flags.writeable = False
    with _SHARED_LOCK:
        _SHARED[key] = value
        while len(_SHARED) > SHARED_ENTRIES:
            _SHARED.popitem(last=False)
    return value


def _iter_columns(value):
    for part in value if isinstance(value, tuple) else (value,):
        for column in part.values():
            yield column
            if isinstance(column, list):
                yield from (c for c in column if isinstance(c, np.ndarray))
