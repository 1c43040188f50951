"""Builds, refreshes and stores the promoter-campaign index (checks/campaigns.py).

Why: an account with ten thousand promoter campaigns needs a hundred FirstPromoter pages to list
them, too slow to read on every report and too costly against the 400 requests a minute.  So the
index is kept where every run finds it, and read off the report's path:

- **Where**: in Redis when `FPCHECK_REDIS_URL` is set (every replica shares it), else in an on-disk
  cache in the user's cache directory (diskcache, SQLite-backed and safe across processes), so
  terminal runs share it too.  Values are JSON, never pickles.
- **Fresh / stale**: for `ttl` seconds the index is fresh; after 80% of it a background refresh
  starts, and until it lands runs keep using the one they have (stale-while-revalidate).
- **Cold**: a run that finds no index starts a build and waits for it at most `wait` seconds; then
  it gets what was read by then (`complete=False`) and the coupon checks say how far it got.
- **One builder**: a lock in the store, so one process reads while the others wait or use the old one.
- **Pages in parallel**: FirstPromoter's lists have no totals, so up to `workers` pages are in flight at a
  time and reading stops at the first short page (a few pages past the end are read for nothing),
  each call through the account's shared rate budget.  No page limit: a bound on time instead.
- **Failures** are stored for `error_ttl` seconds, so a broken listing is not re-read by every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from checks.campaigns import CampaignIndex, PromoterCampaign
from checks.sources import SourceError
from checks.sources.protocols import FirstPromoterSource

log = logging.getLogger(__name__)

KEEP = 24 * 3600.0  # seconds a stored index may be served stale while refreshes fail
LOCK_TTL = 30.0  # a builder renews its lock with every page; a dead one frees it after this
MAX_BUILD = 600.0  # seconds one build may take, whatever the account's size
MAX_PAGES = 100_000  # bound on the loop (10 million campaigns); time runs out long before


# ---------------------------------------------------------------------------- stores


class Store(Protocol):
    where: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: float) -> None: ...

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Set only when absent (a lock); True when this call set it."""
        ...

    def delete(self, key: str) -> None: ...


class MemoryStore:
    """This process only (tests, and engines given their own in-memory cache)."""

    where = "this process's memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            hit = self._data.get(key)
            return hit[1] if hit and hit[0] > time.monotonic() else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        with self._lock:
            hit = self._data.get(key)
            if hit and hit[0] > time.monotonic():
                return False
            self._data[key] = (time.monotonic() + ttl, value)
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class DiskStore:
    """The user's cache directory (or FPCHECK_CACHE_DIR), shared by every terminal run."""

    def __init__(self, directory: str | Path) -> None:
        import diskcache  # only processes without Redis need it

        self.where = str(directory)
        self._cache = diskcache.Cache(str(directory), size_limit=256 * 1024 * 1024)

    def get(self, key: str) -> bytes | None:
        value = self._cache.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._cache.set(key, value, expire=ttl)

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(self._cache.add(key, value, expire=ttl))

    def delete(self, key: str) -> None:
        self._cache.delete(key)


class RedisStore:
    def __init__(self, client: Any, prefix: str = "fpcheck:index:") -> None:
        self.r, self.prefix = client, prefix
        kw = client.connection_pool.connection_kwargs
        self.where = f"Redis {kw.get('host', kw.get('path', '?'))}:{kw.get('port', '')}/{kw.get('db', 0)}"

    def get(self, key: str) -> bytes | None:
        value = self.r.get(self.prefix + key)
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self.r.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(self.r.set(self.prefix + key, value, nx=True, px=max(1, int(ttl * 1000))))

    def delete(self, key: str) -> None:
        self.r.delete(self.prefix + key)


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("fpcheck", appauthor=False)) / "index"


# ---------------------------------------------------------------------------- status


class IndexStatus(BaseModel):
    """What `fpcheck index status` shows; stored beside the index (small, read by every run)."""

    count: int | None = None  # campaigns in the stored index
    pages: int | None = None
    read_at: datetime | None = None  # when the stored index was read
    read_seconds: float | None = None  # how long that read took
    building_since: datetime | None = None
    building_pages: int = 0
    building_count: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


def scope_of(fp_api_base: str, account_id: str, api_key: str) -> str:
    """The index's key for one FirstPromoter account: a hash, never the credentials."""
    return hashlib.sha256(f"{fp_api_base}|{account_id}|{api_key}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- building


class _Build:
    """One build in this process: pages read so far (partial index) and how it ended."""

    def __init__(self, scope: str, started: float) -> None:
        self.scope = scope
        self.started = started
        self.pages: dict[int, tuple[PromoterCampaign, ...]] = {}
        self.reader: FirstPromoterSource | None = None
        self.error: str | None = None
        self.result: CampaignIndex | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()

    def partial(self, previous_count: int | None) -> CampaignIndex:
        with self.lock:
            pages = sorted(self.pages)
            rows = tuple(pc for p in pages for pc in self.pages[p])
        elapsed = max(time.monotonic() - self.started, 0.1)
        return CampaignIndex(
            campaigns=rows,
            complete=False,
            pages_read=len(pages),
            read_at=datetime.now(UTC),
            retry_in_s=_eta(len(rows), len(pages), elapsed, previous_count),
        )


def _eta(count: int, pages: int, elapsed: float, previous_count: int | None) -> float:
    """Seconds until a build is likely whole: from the last known size if there is one, else as
    long again as it has run (the size is unknown until the last page)."""
    if previous_count and pages and count < previous_count:
        return (previous_count - count) / max(count / elapsed, 1.0) + 2.0
    return max(elapsed, 5.0)


class CampaignIndexer:
    def __init__(
        self,
        store: Store,
        ttl: float,
        make_reader: Callable[[], FirstPromoterSource],
        *,
        scope: str,
        workers: int = 6,
        error_ttl: float = 30.0,
        refresh_at: float = 0.8,
    ) -> None:
        self.store, self.ttl, self.make_reader, self.scope = store, ttl, make_reader, scope
        self.workers, self.error_ttl, self.refresh_at = workers, error_ttl, refresh_at
        self._builds: dict[str, _Build] = {}
        self._guard = threading.Lock()
        self._memo: tuple[str, CampaignIndex] | None = None  # (read_at, parsed) of the stored index
        self._parse_lock = threading.Lock()

    # keys in the store
    def _k(self, what: str) -> str:
        return f"{self.scope}:{what}"

    # ------------------------------------------------------------------ reading the store
    def status(self) -> IndexStatus:
        raw = self.store.get(self._k("status"))
        if raw:
            with contextlib.suppress(ValidationError, ValueError):
                return IndexStatus.model_validate_json(raw)
        return IndexStatus()

    def _save_status(self, **changes: Any) -> None:
        status = self.status().model_copy(update=changes)
        self.store.set(self._k("status"), status.model_dump_json().encode(), KEEP)

    def stored(self) -> CampaignIndex | None:
        """The last complete index in the store (parsed once per process per version)."""
        status = self.status()
        stamp = status.read_at.isoformat() if status.read_at else None
        memo = self._memo
        if memo is not None and stamp is not None and memo[0] == stamp:
            return memo[1]
        with self._parse_lock:  # fifty commands at once parse it once, not fifty copies at a time
            memo = self._memo
            if memo is not None and stamp is not None and memo[0] == stamp:
                return memo[1]
            raw = self.store.get(self._k("data"))
            if raw is None:
                return None
            try:
                index = CampaignIndex.model_validate_json(raw)
            except (ValidationError, ValueError):  # written by another version: as good as absent
                return None
            if index.read_at is not None:
                self._memo = (index.read_at.isoformat(), index)
            return index

    # ------------------------------------------------------------------ what a run asks
    def get(self, wait: float, calls: list[int] | None = None) -> CampaignIndex:
        """The index for one run: the stored one (refreshing it in the background when it is
        getting old), or, when there is none, what a build reads within `wait` seconds.  Raises
        SourceError with the (briefly cached) reason when the listing cannot be read."""
        try:
            return self._get(wait, calls)
        except SourceError:
            raise
        except Exception as exc:  # the store itself (Redis down, a broken cache dir)
            log.warning("promoter-campaign index store failed: %s", type(exc).__name__)
            raise SourceError(f"the promoter-campaign index in {self.store.where} could not be read "
                              f"({type(exc).__name__})") from None

    def _get(self, wait: float, calls: list[int] | None) -> CampaignIndex:
        index = self.stored() if self.ttl > 0 else None
        if index is not None:
            age = (datetime.now(UTC) - index.read_at).total_seconds() if index.read_at else self.ttl
            if age >= self.ttl * self.refresh_at and not self.store.get(self._k("error")):
                self._start()  # stale-while-revalidate: this run uses what is there (a failed refresh waits)
            return index
        cached_error = self.store.get(self._k("error"))
        if cached_error:
            raise SourceError(cached_error.decode("utf-8", "replace"))
        build = self._start()
        return self._await(build, wait, calls)

    def _await(self, build: _Build | None, wait: float, calls: list[int] | None) -> CampaignIndex:
        until = time.monotonic() + max(wait, 0.0)
        previous = self.status().count
        if build is not None:
            build.done.wait(max(wait, 0.0))
            if calls is not None and build.reader is not None:
                calls.append(build.reader.calls)  # the calls it made while this run waited for it
            if build.result is not None:
                return build.result
            if build.error is not None:
                raise SourceError(build.error)
            return build.partial(previous)
        # another process is building: wait for its result in the store (bounded)
        while True:
            index = self.stored()
            if index is not None:
                return index
            err = self.store.get(self._k("error"))
            if err:
                raise SourceError(err.decode("utf-8", "replace"))
            if time.monotonic() >= until:
                break
            time.sleep(min(0.1, max(until - time.monotonic(), 0.0)))
        status = self.status()
        since = status.building_since or datetime.now(UTC)
        elapsed = max((datetime.now(UTC) - since).total_seconds(), 0.1)
        return CampaignIndex(
            campaigns=(),
            complete=False,
            read_elsewhere=status.building_count,
            pages_read=status.building_pages,
            read_at=since,
            retry_in_s=_eta(status.building_count, status.building_pages, elapsed, previous),
        )

    def refresh(self, wait: float = MAX_BUILD) -> CampaignIndex:
        """Build now (`fpcheck index refresh`), waiting for it; a build already running elsewhere
        is waited for instead of started twice."""
        self.store.delete(self._k("error"))
        build = self._start()
        index = self._await(build, wait, None)
        if build is None and not index.complete:
            raise SourceError("another process is building the index and did not finish in time")
        return index

    def offer(self, campaigns: tuple[PromoterCampaign, ...], read_at: datetime, pages: int) -> bool:
        """Every promoter campaign, as another reader just listed them whole (a sweep reads the
        same list): stored as the index when there is none or it is due for a refresh, so the runs
        that follow do not read it again.  Skipped while someone else builds it.  True if stored."""
        current = self.stored() if self.ttl > 0 else None
        if self.ttl <= 0 or (current is not None and current.read_at is not None
                             and (read_at - current.read_at).total_seconds() < self.ttl * self.refresh_at):
            return False
        token = uuid.uuid4().hex.encode()
        if not self.store.add(self._k("lock"), token, LOCK_TTL):
            return False  # a build is running: it stores its own
        try:
            self._keep(tuple({pc.id: pc for pc in campaigns}.values()), pages, read_at)
            return True
        finally:
            self._unlock(token)

    def _keep(self, rows: tuple[PromoterCampaign, ...], pages: int, read_at: datetime,
              read_seconds: float | None = None) -> CampaignIndex:
        """Store a complete index (the holder of the lock calls this) and say so in the status."""
        index = CampaignIndex(campaigns=rows, complete=True, pages_read=pages, read_at=read_at)
        self.store.set(self._k("data"), index.model_dump_json().encode(), max(KEEP, self.ttl * 2))
        self._memo = (read_at.isoformat(), index)
        self._save_status(count=len(rows), pages=pages, read_at=read_at, read_seconds=read_seconds,
                          building_since=None, building_pages=0, building_count=0)
        self.store.delete(self._k("error"))
        return index

    def _unlock(self, token: bytes) -> None:
        with contextlib.suppress(Exception):  # a failing store must not keep waiters waiting
            if self.store.get(self._k("lock")) == token:
                self.store.delete(self._k("lock"))

    def join(self, timeout: float) -> bool:
        """Wait for builds this process started (a terminal run finishing its index before it
        exits, so the next run finds it).  True when none is left running."""
        until = time.monotonic() + timeout
        with self._guard:
            builds = list(self._builds.values())
        for b in builds:
            b.done.wait(max(until - time.monotonic(), 0.0))
        return all(b.done.is_set() for b in builds)

    def building(self) -> _Build | None:
        with self._guard:
            return self._builds.get(self.scope)

    # ------------------------------------------------------------------ the build
    def _start(self) -> _Build | None:
        """This process's running build, a new one, or None when another process holds the lock."""
        with self._guard:
            running = self._builds.get(self.scope)
            if running is not None and not running.done.is_set():
                return running
            token = uuid.uuid4().hex.encode()
            if not self.store.add(self._k("lock"), token, LOCK_TTL):
                return None
            build = _Build(self.scope, time.monotonic())
            self._builds[self.scope] = build
        self._save_status(building_since=datetime.now(UTC), building_pages=0, building_count=0)
        threading.Thread(
            target=self._run, args=(build, token), name="fpcheck-campaign-index", daemon=True
        ).start()
        return build

    def _run(self, build: _Build, token: bytes) -> None:
        started_at = datetime.now(UTC)
        reader = build.reader = self.make_reader()
        try:
            rows, pages = self._read_all(build, reader, token)
            build.result = self._keep(rows, pages, started_at, read_seconds=round(time.monotonic() - build.started, 2))
        except Exception as exc:  # the reason is stored briefly and given to every waiting run
            if isinstance(exc, RuntimeError) and "after shutdown" in str(exc):
                # the process is exiting (a terminal run past its wait): abandon quietly, the next
                # run builds it again; only a real upstream problem is remembered as an error
                build.error = "the process building the promoter-campaign index stopped; run again"
                return
            reason = str(exc) if isinstance(exc, SourceError) else f"unexpected error ({type(exc).__name__})"
            if not isinstance(exc, SourceError):
                log.exception("reading the promoter campaigns failed")
            build.error = f"{reason} (while reading the promoter campaigns; retried after {self.error_ttl:g} s)"
            with contextlib.suppress(Exception):  # a failing store must not keep waiters waiting
                self.store.set(self._k("error"), build.error.encode(), self.error_ttl)
                self._save_status(last_error=reason, last_error_at=datetime.now(UTC), building_since=None,
                                  building_pages=0, building_count=0)
        finally:
            reader.close()
            self._unlock(token)
            build.done.set()

    def _read_all(
        self, build: _Build, reader: FirstPromoterSource, token: bytes
    ) -> tuple[tuple[PromoterCampaign, ...], int]:
        last: int | None = None  # the last page, once a short page showed where the list ends
        next_page = 1
        inflight: dict[Future[tuple[tuple[PromoterCampaign, ...], bool]], int] = {}
        deadline = time.monotonic() + MAX_BUILD
        saved = 0.0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fpcheck-index") as pool:
            try:
                while True:
                    # page 1 alone first (most accounts fit in one page), then twice as many in flight
                    # with each page read, up to `workers`: a two-page account reads three pages, not seven
                    width = min(self.workers, 1 << len(build.pages))
                    while len(inflight) < width and next_page <= min(last or MAX_PAGES, MAX_PAGES):
                        inflight[pool.submit(reader.promoter_campaign_page, next_page)] = next_page
                        next_page += 1
                    if not inflight:
                        break
                    if time.monotonic() > deadline:
                        raise SourceError(f"listing the promoter campaigns took over {MAX_BUILD:g} s")
                    done, _ = wait(inflight, timeout=max(deadline - time.monotonic(), 0.1),
                                   return_when=FIRST_COMPLETED)
                    for fut in done:
                        page = inflight.pop(fut)
                        rows, short = fut.result()  # a failed page fails the build
                        if page > 1 and rows and rows == build.pages.get(1):
                            short, rows = True, ()  # the server ignores `page`: it sent page 1 again
                            page -= 1
                        if short:
                            last = page if last is None else min(last, page)
                        if rows and (last is None or page <= last):
                            with build.lock:
                                build.pages[page] = rows
                    with build.lock:
                        build.pages = {p: r for p, r in build.pages.items() if last is None or p <= last}
                        pages, count = len(build.pages), sum(len(r) for r in build.pages.values())
                    if time.monotonic() - saved > 0.5:  # still alive, and how far, for the others
                        saved = time.monotonic()
                        self.store.set(self._k("lock"), token, LOCK_TTL)
                        self._save_status(building_pages=pages, building_count=count)
            finally:
                for fut in inflight:
                    fut.cancel()
        with build.lock:
            ordered = sorted(build.pages)
            rows = tuple(pc for p in ordered for pc in build.pages[p])
        # a campaign that moved between pages while they were read appears twice: keep it once
        unique = tuple({pc.id: pc for pc in rows}.values())
        return unique, len(ordered)
