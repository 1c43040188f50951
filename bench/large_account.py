"""fpcheck on a large FirstPromoter account: 10,000 promoter campaigns with unique tracking coupons,
a healthy converted customer whose campaign is listed on page 80, every upstream call LATENCY
slower.  A script run by hand that prints figures beside references measured in the same run.

  A. cold first report (empty index) against the default deadline; beside it, the old way of
     reading the campaigns (one page after another, stopping after 50 pages).
  B. warm report (index shared) against the floor of dependent calls, and its FirstPromoter calls
     beside the same report on the ordinary sandbox (134 promoter campaigns).
  C. RUNS terminal runs (`fpcheck check`, one every 60/RUNS s) against one shared on-disk cache,
     the FirstPromoter stand-in enforcing 400 requests a minute: 429s seen, reports whole; beside
     it the same runs each with its own empty cache (how every terminal run started before).
  D. two `fpcheck serve` replicas sharing one Redis, a burst of BURST commands into each at once:
     the stand-ins' peak rates (Stripe per second, FirstPromoter per minute), 429s, reports
     delivered, each replica's peak RSS.  Needs redis-server on the PATH (skipped otherwise).

Usage: .venv/bin/python bench/large_account.py [--latency 0.15] [--campaigns 10000] [--page 80]
       [--runs 30] [--burst 50] [--skip-before] [--sections ABCD]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # the Slack load bench's machinery
import slack_load as sl  # noqa: E402

from checks.engine import Engine  # noqa: E402
from checks.model import Status  # noqa: E402
from checks.query import parse_query  # noqa: E402
from checks.sources import SourceError  # noqa: E402
from checks.sources.firstpromoter import FirstPromoterReader  # noqa: E402
from sandbox.runner import Sandbox  # noqa: E402
from sandbox.scenarios import PC_ANA  # noqa: E402

EMAIL = "healthy@example.com"
# warm: customers -> their invoices (2 deep); the referral, commissions and the rest run beside them
WARM_CHAIN = 2


def big_sandbox(lat: float, campaigns: int, page: int) -> Sandbox:
    sb = Sandbox(latency=lat).start()
    sb.fp.add_many_promoter_campaigns(campaigns - len(sb.fp.promoter_campaigns))
    sb.fp.list_on_page(PC_ANA, page)
    sl.quiet_disconnects(sb.fp)
    sl.quiet_disconnects(sb.stripe)
    return sb


def count_429(sb: Sandbox) -> list[float]:
    """Times the FirstPromoter stand-in refused a request for its per-minute limit."""
    seen: list[float] = []
    original = sb.fp.authorize

    def authorize(req: Any) -> Any:
        resp = original(req)
        if resp is not None and resp.status == 429:
            seen.append(req.at)
        return resp

    sb.fp.authorize = authorize  # type: ignore[method-assign]
    return seen


def decided(report: Any) -> tuple[list[str], list[str]]:
    """(non-coupon checks left undecided or errored, all checks that errored)."""
    bad = [r.id for r in report.checks if not r.id.startswith("coupon.") and r.status == Status.ERROR]
    errors = [r.id for r in report.checks if r.status == Status.ERROR]
    return bad, errors


# ------------------------------------------------------------------------------------ A and B


def bench_engine(sb: Sandbox, small: Sandbox, lat: float, skip_before: bool) -> list[str]:
    out: list[str] = []
    cache_dir = tempfile.mkdtemp(prefix="fpcheck-bench-index-")
    settings = sb.settings(fpcheck_cache_dir=cache_dir)
    deadline = settings.fpcheck_deadline
    if not skip_before:
        s = sb.settings()
        assert s.firstpromoter_api_key is not None
        reader = FirstPromoterReader(s.firstpromoter_api_key.get_secret_value(), s.firstpromoter_account_id or "",
                                     s.firstpromoter_api_base)
        t0 = time.perf_counter()
        try:
            reader.promoter_campaigns()
            what = "read them all"
        except SourceError as exc:
            what = f"error: {str(exc)[:90]}"
        before = time.perf_counter() - t0
        out.append(f"A. before (one page after another): {before * 1000:.0f} ms, {reader.calls} FirstPromoter "
                   f"calls, {what}")
    engine = Engine(settings)
    t0 = time.perf_counter()
    cold = engine.check(parse_query(EMAIL))
    cold_s = time.perf_counter() - t0
    bad, errors = decided(cold)
    unique = cold.result("coupon.unique")
    out.append(f"A. cold first report: {cold_s * 1000:.0f} ms (deadline {deadline:g} s: "
               f"{'within' if cold_s < deadline else 'OVER'}); non-coupon checks not decided: {bad or 'none'}; "
               f"errors: {errors or 'none'}; calls {cold.calls}")
    out.append(f"   coupon.unique: {unique.status.value}: {unique.summary}")
    out.append(f"   coupon.id:     {cold.result('coupon.id').status.value}: {cold.result('coupon.id').summary}")
    t0 = time.perf_counter()
    engine.campaigns.join(timeout=300)
    st = engine.campaigns.status()
    out.append(f"   index built in {st.read_seconds} s: {st.count:,} campaigns, {st.pages} pages "
               f"(finished {time.perf_counter() - t0:.1f} s after the report)")

    warm = []
    for _ in range(5):
        fresh = Engine(settings)  # a new process's view: the index comes from the disk cache
        fresh.check(parse_query(EMAIL))  # warm this engine's account and coupon cache too
        t0 = time.perf_counter()
        rep = fresh.check(parse_query(EMAIL))
        warm.append((time.perf_counter() - t0, rep))
    wall = statistics.median(w for w, _ in warm)
    rep = warm[0][1]
    small_engine = Engine(small.settings(fpcheck_cache_dir=tempfile.mkdtemp(prefix="fpcheck-bench-small-")))
    small_engine.check(parse_query(EMAIL))
    small_engine.campaigns.join(timeout=60)
    small_rep = small_engine.check(parse_query(EMAIL))
    floor = WARM_CHAIN * lat
    out.append(f"B. warm report: {wall * 1000:.0f} ms (median of 5) = {wall / floor:.2f}x the floor of "
               f"{WARM_CHAIN} dependent calls x {lat * 1000:.0f} ms = {floor * 1000:.0f} ms (target <= 1.3x); "
               f"coupon.unique {rep.result('coupon.unique').status.value}")
    out.append(f"   FirstPromoter calls: {rep.calls['firstpromoter']} here vs {small_rep.calls['firstpromoter']} on an "
               f"account with {len(small.fp.promoter_campaigns)} campaigns (Stripe {rep.calls['stripe']} vs "
               f"{small_rep.calls['stripe']})")
    shutil.rmtree(cache_dir, ignore_errors=True)
    return out


# ------------------------------------------------------------------------------------ C


def terminal_runs(sb: Sandbox, runs: int, shared: bool) -> tuple[int, int, int, float]:
    """(429s, whole reports, runs that finished, seconds); one run started every 60/runs s."""
    sb.fp.rate_limit_per_minute = 400
    sb.fp._recent.clear()
    refused = count_429(sb)
    shared_dir = tempfile.mkdtemp(prefix="fpcheck-bench-runs-")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))}
    results: list[dict[str, Any] | None] = [None] * runs

    def one(i: int) -> None:
        cache = shared_dir if shared else tempfile.mkdtemp(prefix="fpcheck-bench-own-", dir=shared_dir)
        env = {**base, **sb.env(), "FPCHECK_CACHE_DIR": cache, "NO_COLOR": "1"}
        try:
            p = subprocess.run([sys.executable, "-m", "bot.cli", "check", EMAIL, "--json"], env=env, cwd=shared_dir,
                               capture_output=True, text=True, timeout=180)
            results[i] = json.loads(p.stdout) if p.stdout.strip() else None
        except (subprocess.TimeoutExpired, json.JSONDecodeError):
            results[i] = None

    threads = []
    started = time.monotonic()
    for i in range(runs):
        t = threading.Thread(target=one, args=(i,), daemon=True)
        t.start()
        threads.append(t)
        time.sleep(60.0 / runs)
    for t in threads:
        t.join(timeout=200)
    elapsed = time.monotonic() - started
    finished = [r for r in results if r is not None]
    whole = [r for r in finished if all(c["status"] != "error" for c in r["checks"])
             and not any("still being built" in c["summary"] for c in r["checks"])]
    sb.fp.rate_limit_per_minute = None
    sb.fp.authorize = type(sb.fp).authorize.__get__(sb.fp)  # type: ignore[method-assign]
    shutil.rmtree(shared_dir, ignore_errors=True)
    return len(refused), len(whole), len(finished), elapsed


# ------------------------------------------------------------------------------------ D


@contextmanager
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="fpcheck-bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def bench_replicas(sb: Sandbox, burst: int, shared: bool = True) -> list[str]:
    """With `shared`, both replicas use one Redis; without, each its own rate budgets (as before;
    the index is still shared through one cache directory, as on one machine)."""
    with redis_server() as url:
        if url is None:
            return ["D. skipped: redis-server is not installed"]
        slack = sl.SlackStandIn(sl.BOT_TOKEN).__enter__()
        slack.latency = sb.latency
        workdir = Path(tempfile.mkdtemp(prefix="fpcheck-bench-replicas-"))
        env = {**sl.bot_env(sb, slack), "FPCHECK_CACHE_DIR": str(workdir / "cache")}
        if shared:
            env["FPCHECK_REDIS_URL"] = url
        # steady state: the index is in Redis already (a replica's first check builds it otherwise)
        subprocess.run([sys.executable, "-m", "bot.cli", "index", "refresh"], env=env, cwd=workdir,
                       capture_output=True, timeout=300, check=False)
        sb.stripe.reset_log()
        sb.fp.reset_log()
        sb.fp.rate_limit_per_minute = 400
        sb.fp._recent.clear()
        refused = count_429(sb)
        bots = [sl.BotProcess(env, workdir, f"replica{i}") for i in range(2)]
        try:
            workers = [b.worker_pid() for b in bots]
            go = threading.Barrier(2 * burst + 1, timeout=30)
            acks: list[Any] = [None] * (2 * burst)
            queries = sl.emails()
            texts = [next(queries) for _ in range(2 * burst)]

            def one(i: int) -> None:
                channel = f"C0REPL{i:04d}"
                go.wait()
                acks[i] = sl.send_command(bots[i % 2].port, texts[i], channel, slack.response_url(channel))

            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(2 * burst)]
            for t in threads:
                t.start()
            started = time.monotonic()
            go.wait()
            for t in threads:
                t.join(timeout=sl.HTTP_TIMEOUT + 5)
            done = [a for a in acks if a is not None]
            reports = sl.threaded_reports(slack, {a.channel: a.sent_at for a in done}, 60.0)
            elapsed = time.monotonic() - started
            # a command still queued when most of its deadline has gone is answered "too busy"
            busy = sum(1 for c in slack.calls if "too busy" in json.dumps(c.params))
            rss = [sl.BotProcess.status_kib(w, "VmHWM") if w else None for w in workers]
        finally:
            for b in bots:
                b.stop()
            slack.__exit__(None, None, None)
            sb.fp.rate_limit_per_minute = None
        stripe_reqs = sb.stripe.calls()
        live = [r.at for r in stripe_reqs if sl.STRIPE_LIVE_KEY in r.headers.get("authorization", "")]
        test = [r.at for r in stripe_reqs if sl.STRIPE_LIVE_KEY not in r.headers.get("authorization", "")]
        fp_times = [r.at for r in sb.fp.calls()]
        to_report = list(reports.values())
        return [
            f"D. 2 replicas x {burst} commands at once, {'one Redis' if shared else 'no Redis (before)'}: "
            f"{len(reports)}/{2 * burst} reports, {busy} told it was too busy to check in time, in "
            f"{elapsed:.1f} s (p50 {sl.pct(to_report, 50):.1f} s, p95 {sl.pct(to_report, 95):.1f} s)",
            f"   peak Stripe {sl.peak(test, 1.0)} req/s test mode (limit 25), {sl.peak(live, 1.0)} live; "
            f"FirstPromoter {sl.peak(fp_times, 60.0)} req/min (limit 400), 429s from it: {len(refused)}",
            f"   peak RSS per replica worker: {', '.join(sl.mib(r) for r in rss)}",
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--campaigns", type=int, default=10_000)
    ap.add_argument("--page", type=int, default=80)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--skip-before", action="store_true", help="skip the reference runs of the old behaviour")
    ap.add_argument("--sections", default="ABCD", help="which sections to run (A and B run together)")
    args = ap.parse_args()
    sl.clean_environment()
    lat = args.latency
    lines = [f"{args.campaigns:,} promoter campaigns, the customer's on page {args.page}; {lat * 1000:.0f} ms per call"]
    sb = big_sandbox(lat, args.campaigns, args.page)
    small = Sandbox(latency=lat).start()
    try:
        if "A" in args.sections or "B" in args.sections:
            lines += bench_engine(sb, small, lat, args.skip_before)
        small.stop()
        for shared in ([False, True] if not args.skip_before and "C" in args.sections else [True] * ("C" in args.sections)):
            n429, whole, finished, secs = terminal_runs(sb, args.runs, shared)
            label = "one shared cache" if shared else "each its own empty cache (before)"
            lines.append(f"C. {args.runs} terminal runs in {secs:.0f} s, {label}: {n429} x 429 from FirstPromoter; "
                         f"{whole}/{args.runs} reports whole ({finished} finished)")
        for shared in ([False, True] if not args.skip_before and "D" in args.sections else [True] * ("D" in args.sections)):
            if time.time() - sb.seeded_at > 45:
                sb.refresh_stripe()
            lines += bench_replicas(sb, args.burst, shared)
    finally:
        sb.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
