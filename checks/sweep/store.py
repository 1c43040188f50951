"""The programme's referrals as the sweep read them, whole, in an embedded SQLite database.

A sweep reads every referral of the programme (one created years ago may be this window's payer):
tens of thousands of rows.  Held as Python dicts they grew the sweep's memory with the programme;
here they live in a private temporary SQLite database (`sqlite3.connect("")`: on disk once past
SQLite's small page cache, deleted when closed), indexed by what the join and the diagnosis look
them up by.  The join asks it for the referral of a Stripe customer id, an fp_uid or an email
(`by_uid`, `by_email`, first in FirstPromoter's listing order, as before); the candidates'
diagnoses ask it what `GET /referrals/{value}?find_by=...` would answer (`first`), so they do not
read again what the sweep holds (known.py).

Pages arrive in listing order, so what the store holds is always a prefix of the listing: a row
found in it is the first one FirstPromoter would answer, even while later pages are still being
read.  A miss means something only once the listing `finish`ed whole; until then the sweep starts
diagnosing the payments whose referral it already holds (run.py), and `wait` holds a lookup that
needs the rest.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from checks.sweep.join import slim_referral

_COLUMNS = ("uid", "uid_k", "email", "email_cf")


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


class Referrals:
    """FirstPromoter's referral rows, in listing order.  `add_page` takes each page as it arrives
    (one listing thread); lookups may come from any thread."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._n = 0
        self._grew = threading.Condition()  # a page was added, or the listing ended
        self._whole: bool | None = None  # None: still being read; then whether it was read whole
        with self._lock:
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-2000", "temp_store=FILE"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE r (n INTEGER PRIMARY KEY, uid TEXT, uid_k TEXT, email TEXT, "
                             "email_cf TEXT, row TEXT NOT NULL)")
            for col in _COLUMNS:
                self._db.execute(f"CREATE INDEX r_{col} ON r ({col}, n)")

    def __len__(self) -> int:
        return self._n

    def add_page(self, rows: list[dict[str, Any]]) -> None:
        batch = []
        n = self._n  # one listing thread adds pages: rows are numbered in listing order
        for row in rows:
            if not isinstance(row, dict):
                continue
            uid, email = _text(row.get("uid")), _text(row.get("email"))
            n += 1
            batch.append((n, uid, uid.strip() or None if uid else None, email,
                          email.strip().casefold() or None if email else None,
                          json.dumps(row, separators=(",", ":"))))
        with self._lock:
            self._db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)", batch)
        with self._grew:
            self._n = n  # counted once stored: a reader told of row n finds it
            self._grew.notify_all()

    def finish(self, whole: bool) -> None:
        """The listing ended: read whole, or not (a failed page, the deadline)."""
        with self._grew:
            self._whole = whole
            self._grew.notify_all()

    @property
    def whole(self) -> bool | None:
        """True once read whole, False once it stopped part-way, None while still being read."""
        return self._whole

    def wait(self, timeout: float) -> bool | None:
        """Wait at most `timeout` seconds for the listing to end; `whole` then."""
        with self._grew:
            self._grew.wait_for(lambda: self._whole is not None, max(timeout, 0.0))
            return self._whole

    def emails_after(self, n: int, timeout: float) -> tuple[list[tuple[int, str | None]], bool]:
        """(row number, email) of the rows after row `n`, waiting at most `timeout` seconds for
        some; and whether the listing has ended (no more will come)."""
        with self._grew:
            self._grew.wait_for(lambda: self._n > n or self._whole is not None, max(timeout, 0.0))
            ended = self._whole is not None
        with self._lock:
            rows = self._db.execute("SELECT n, email FROM r WHERE n > ? ORDER BY n", (n,)).fetchall()
        return rows, ended

    def first(self, column: str, value: str | None) -> dict[str, Any] | None:
        """The first row (listing order) whose `column` is `value`: uid / email as FirstPromoter
        holds them, uid_k / email_cf trimmed (and casefolded) as the join compares them."""
        if column not in _COLUMNS:
            raise ValueError(column)
        if not value:
            return None
        with self._lock:
            got = self._db.execute(f"SELECT row FROM r WHERE {column} = ? ORDER BY n LIMIT 1", (value,)).fetchone()
        return json.loads(got[0]) if got else None

    def by_uid(self, uid: str | None) -> dict[str, Any] | None:
        """The join's referral for a customer id or fp_uid, cut to what the join and the result use."""
        row = self.first("uid_k", uid)
        return slim_referral(row) if row is not None else None

    def by_email(self, email: str | None) -> dict[str, Any] | None:
        row = self.first("email_cf", email.strip().casefold() if email else None)
        return slim_referral(row) if row is not None else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
