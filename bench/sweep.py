"""`fpcheck sweep` over a seeded month, every upstream call LATENCY seconds slower.

Seeds the stand-ins with --invoices paid invoices, --referrals referrals, --commissions commissions
and --lost lost commissions of known causes (sandbox/month_seed.py), runs `fpcheck sweep
--since 31d --json` in its own process, and prints:
- lost found / lost seeded and false alarms (target 100% and 0);
- upstream calls against what the design needs: one pass over every listing (pages needed) plus
  the candidates' checks; and the reference of checking every referral's payment one by one;
- wall time against the floor the client-side rate limits allow for the calls made (target <= 1.2x),
  and against the floor by phase: the listings at the slower API's limit, then the candidates' checks
  (they need every listing read) at theirs;
- when each kind of call ran (a timeline from the stand-ins' request logs);
- the sweep process's own peak RSS (`/usr/bin/time -f %M` on the child, else its VmHWM polled from
  /proc: RUSAGE_CHILDREN would start from this process's size, stand-ins and all, when it forks).
- the checks' FirstPromoter calls by kind (referral lookups, commission searches, campaigns), and the
  sweep process's CPU time per payment scanned (target < 1 ms).
Usage: python bench/sweep.py [--latency 0.15] [--invoices 10000] [--referrals 5000] [--commissions 2000] [--lost 100]
       [--timeout 3600]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from bot.sweep_demo import month_settings
from checks.ratelimit import FIRSTPROMOTER_RATES, floor_seconds, schedule
from checks.sweep.lists import FP_WAVE
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn

# checks/ratelimit.py: Stripe test mode 18/s after a burst of 5; FirstPromoter 300 a minute, 20 a second
STRIPE_RATE, STRIPE_BURST = 18.0, 5
TIME = "/usr/bin/time"


def child_run(cmd: list[str], env: dict[str, str], timeout: float
              ) -> tuple[subprocess.CompletedProcess[str], float, float | None]:
    """Run `cmd`; its result, its own peak RSS in MiB and its CPU seconds (user + system)."""
    if shutil.which(TIME):
        with tempfile.TemporaryDirectory() as tmp:
            rss_file = Path(tmp) / "rss"
            out = subprocess.run([TIME, "-f", "%M %U %S", "-o", str(rss_file), *cmd], capture_output=True,
                                 text=True, env=env, timeout=timeout)
            rss, user, system = rss_file.read_text().split()[-3:]
            return out, int(rss) / 1024, float(user) + float(system)
    # no /usr/bin/time: poll the child's high-water mark until it exits (bounded by `timeout`)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_kib, ends = 0, time.monotonic() + timeout
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None and time.monotonic() < ends:
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            peak_kib = max(peak_kib, int(line.split()[1]))
        except (OSError, StopIteration, ValueError):
            pass
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=max(1.0, ends - time.monotonic()))
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), peak_kib / 1024, None


@dataclass
class Figures:
    invoices: int
    found: int
    seeded: int
    false_alarms: int
    partial: bool
    stripe_calls: int
    fp_calls: int
    stripe_listing: int
    fp_listing: int
    candidates: int
    wall: float
    floor: float
    floor_stripe: float
    floor_fp: float
    rss_mib: float
    cpu_s: float | None = None
    payments: int = 0
    fp_check_calls: dict[str, int] | None = None
    floor_served: float = 0.0  # the floor, its listing phase no shorter than the stand-in takes to serve it
    timeline: list[tuple[str, int, float, float]] | None = None  # (calls, how many, first, last s from start)
    floor_phased: float = 0.0  # the listings' floor, then the checks' (they need the listings read)


def phased_floor(s_list: int, s_checks: int, f_list: int, f_checks: int) -> float:
    """The floor when the candidates' checks start only once every listing is read (the join needs
    them all): the listings at the slower API's limit, then the checks at theirs, FirstPromoter's
    window still holding the listing's last minute of calls."""
    sent: deque[float] = deque(maxlen=max(n for n, _ in FIRSTPROMOTER_RATES))
    fp_listed = 0.0
    for _ in range(f_list):
        fp_listed = schedule(sent, FIRSTPROMOTER_RATES, 0.0)
        sent.append(fp_listed)
    listed = max(fp_listed, max(0.0, s_list - STRIPE_BURST) / STRIPE_RATE)
    fp_done = listed
    for _ in range(f_checks):
        fp_done = schedule(sent, FIRSTPROMOTER_RATES, listed)
        sent.append(fp_done)
    return max(listed + s_checks / STRIPE_RATE, fp_done)


def standin_page_seconds(stripe: StripeStandIn, key: str, log: list) -> float:  # type: ignore[type-arg]
    """The median time the Stripe stand-in takes to serve one of the sweep's invoice listing pages
    (its filters, copies and expansions over the whole month), asked again one at a time, no latency."""
    import requests

    pages = [r for r in log if r.path == "/v1/invoices" and r.param("created[gte]") is not None]
    if not pages:
        return 0.0
    stripe.latency, took = 0.0, []
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {key}"
        for r in pages[:: max(1, len(pages) // 7)][:7]:
            t0 = time.perf_counter()
            http.get(stripe.url + r.path, params=r.query, timeout=60).raise_for_status()
            took.append(time.perf_counter() - t0)
    return sorted(took)[len(took) // 2]


def measure(args: argparse.Namespace, quiet: bool = False) -> Figures:
    """Seed a month as `args` say, sweep it in a child process, print the figures (unless `quiet`)."""
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    t0 = time.perf_counter()
    truth = seed_month(stripe, fp, invoices=args.invoices, referrals=args.referrals,
                       commissions=args.commissions, lost=args.lost)
    say = (lambda *a: None) if quiet else print
    say(f"seeded {args.invoices:,} paid invoices, {args.referrals:,} referrals, {args.commissions:,} "
          f"commissions, {len(truth.lost)} lost in {time.perf_counter() - t0:.1f} s; latency {args.latency * 1000:.0f} ms/call")
    with stripe, fp:
        stripe.latency = fp.latency = args.latency
        s = month_settings(stripe, fp)
        env = {**os.environ, "NO_PROXY": "127.0.0.1", "STRIPE_SUPPRESS_NOTICES": "true",
               "STRIPE_API_KEY": s.stripe_api_key.get_secret_value(), "STRIPE_API_BASE": s.stripe_api_base,
               "FIRSTPROMOTER_API_KEY": s.firstpromoter_api_key.get_secret_value(),
               "FIRSTPROMOTER_ACCOUNT_ID": s.firstpromoter_account_id or "",
               "FIRSTPROMOTER_API_BASE": s.firstpromoter_api_base,
               "FPCHECK_EXPECTED_STRIPE_ACCOUNT": s.fpcheck_expected_stripe_account or "",
               "FPCHECK_EXPECTED_STRIPE_MODE": "test"}
        started, mono0 = time.perf_counter(), time.monotonic()
        out, rss_mib, cpu_s = child_run([sys.executable, "-m", "bot.cli", "sweep", "--since", "31d", "--json"], env,
                                        getattr(args, "timeout", 3600.0))
        wall = time.perf_counter() - started
        stripe_log, fp_log = stripe.calls(), fp.calls()
        page_s = standin_page_seconds(stripe, s.stripe_api_key.get_secret_value(), stripe_log)
    if getattr(args, "save", None):
        Path(args.save).mkdir(parents=True, exist_ok=True)
        Path(args.save, "sweep.json").write_text(out.stdout)
        Path(args.save, "sweep.log").write_text(out.stderr)
    if out.returncode not in (0, 1):
        sys.exit(f"sweep failed ({out.returncode}): {out.stderr[-2000:]}")
    result = json.loads(out.stdout)

    found = {lo["payment"]["id"]: lo["verdict"]["check"] for lo in result["lost"]}
    hits = set(found) & set(truth.lost)
    false_alarms = set(found) - set(truth.lost)
    same_cause = sum(1 for p in hits if found[p] == truth.lost[p])

    # the listing calls (window filters / page numbers without a search) vs the diagnosis calls
    def is_listing(r) -> bool:  # type: ignore[no-untyped-def]
        if r.path.startswith("/v1/"):
            return r.param("created[gte]") is not None
        return r.param("q") is None and r.param("page") is not None and r.param("per_page") == "100" and (
            r.path.endswith(("/referrals", "/commissions", "/promoter_campaigns")))

    # where the time went: each kind of call's first and last request, in seconds from the start
    groups: dict[str, list[float]] = {}
    for api, log in (("Stripe", stripe_log), ("FP", fp_log)):
        for r in log:
            what = (r.path.removeprefix("/v1/").removeprefix("/api/v2/company/") + " pages" if is_listing(r)
                    else "checks")
            groups.setdefault(f"{api} {what}", []).append(r.at - mono0)
    timeline = [(k, len(v), min(v), max(v)) for k, v in sorted(groups.items(), key=lambda kv: min(kv[1]))]
    if getattr(args, "buckets", 0):
        # calls of each kind per `buckets` seconds: where an API sat idle or a phase waited on another
        step = float(args.buckets)
        end = max((max(v) for v in groups.values()), default=0.0)
        width = int(end // step) + 1
        print(f"calls per {step:g} s: " + " ".join(f"{int(i * step):>4}" for i in range(width)))
        for k, v in sorted(groups.items(), key=lambda kv: min(kv[1])):
            row = [0] * width
            for at in v:
                row[min(width - 1, max(0, int(at // step)))] += 1
            print(f"  {k[:24]:<24} " + " ".join(f"{n:>4}" for n in row))

    s_list = sum(1 for r in stripe_log if is_listing(r))
    f_list = sum(1 for r in fp_log if is_listing(r))
    # what the candidates' checks asked FirstPromoter, by kind of call
    fp_checks: dict[str, int] = {}
    for r in fp_log:
        if is_listing(r):
            continue
        kind = ("referral lookups" if "/referrals" in r.path else "commission searches"
                if r.path.endswith("/commissions") else "promoter campaigns"
                if r.path.endswith("/promoter_campaigns") else "other")
        fp_checks[kind] = fp_checks.get(kind, 0) + 1
    s_all, f_all = len(stripe_log), len(fp_log)
    charges = args.invoices  # every paid invoice has its charge
    promoter_campaigns = len(fp.promoter_campaigns)
    commissions_listed = args.commissions  # all were created within the window
    pages_needed = {
        "stripe": math.ceil(args.invoices / 100) + math.ceil(charges / 100) + 1,
        "firstpromoter": (args.referrals // 100 + 1) + (commissions_listed // 100 + 1) + (promoter_campaigns // 100 + 1),
    }
    candidates = len(result["lost"]) + result.get("cleared", 0)
    per_check_s = (s_all - s_list) / max(candidates, 1)
    per_check_f = (f_all - f_list) / max(candidates, 1)
    naive_calls = result["scanned"]["referral_payments"] * (per_check_s + per_check_f)

    floor_s = max(0.0, s_all - STRIPE_BURST) / STRIPE_RATE
    floor_f = floor_seconds(FIRSTPROMOTER_RATES, f_all)
    floor = max(floor_s, floor_f)
    # the Stripe stand-in is one Python process: it serves one page at a time (its GIL), so on a big
    # month its listing pages alone may take longer than Stripe's rate limit would
    served = s_list * page_s
    floor_phased = phased_floor(s_list, s_all - s_list, f_list, f_all - f_list)
    floor_served = max(floor_f, max(served, s_list / STRIPE_RATE) + max(0.0, s_all - s_list - STRIPE_BURST) / STRIPE_RATE)
    say()
    say(f"lost found / seeded     {len(hits)}/{len(truth.lost)} ({100 * len(hits) / max(len(truth.lost), 1):.0f}%), "
          f"false alarms {len(false_alarms)}, cause as seeded {same_cause}/{len(hits)}")
    for lo in result["lost"]:
        pid = lo["payment"]["id"]
        if pid in hits and found[pid] != truth.lost[pid]:
            print(f"  cause differs: {pid} seeded {truth.lost[pid]}, found {found[pid]}: "
                  f"{lo['verdict'].get('summary', '')[:300]}")
    say(f"payments scanned        {result['scanned']['payments']:,} ({result['scanned']['referral_payments']:,} from referrals), "
          f"{candidates} candidates diagnosed, partial={result['partial']}")
    say(f"Stripe calls            {s_all:,} = {s_list:,} listing pages (needed {pages_needed['stripe']:,} + time slices' "
          f"last pages) + {s_all - s_list:,} for {candidates} checks ({per_check_s:.1f}/check)")
    say(f"FirstPromoter calls     {f_all:,} = {f_list:,} listing pages (needed {pages_needed['firstpromoter']:,}; up to "
          f"{FP_WAVE - 1} past the end per listing) + {f_all - f_list:,} for {candidates} checks ({per_check_f:.1f}/check)")
    say(f"calls vs needed         {(s_all + f_all) / (sum(pages_needed.values()) + candidates * (per_check_s + per_check_f)):.2f}x; "
          f"checking each referral payment one by one instead: ~{naive_calls:,.0f} calls "
          f"({naive_calls / max(s_all + f_all, 1):.1f}x this sweep)")
    say(f"wall time               {wall:.1f} s vs rate-limit floor {floor:.1f} s "
          f"(Stripe {floor_s:.1f} s at {STRIPE_RATE:g}/s, FirstPromoter {floor_f:.1f} s at 300/min, 20/s) "
          f"= {wall / max(floor, 1e-9):.2f}x (target <= 1.2x)")
    say(f"Stripe stand-in          {1000 * page_s:.0f} ms to serve one listing page (measured after the sweep, no latency): "
        f"its {s_list:,} pages one at a time take {served:.1f} s; floor with it {floor_served:.1f} s = "
        f"{wall / max(floor_served, 1e-9):.2f}x")
    say(f"floor by phase          {floor_phased:.1f} s = {wall / max(floor_phased, 1e-9):.2f}x: the listings at the slower "
        "API's limit, then the checks (which need every listing read) at theirs")
    say("timeline                " + "; ".join(f"{k} {n:,} in {a:.1f}-{b:.1f} s" for k, n, a, b in timeline))
    say(f"FirstPromoter, checks   {', '.join(f'{k} {v}' for k, v in sorted(fp_checks.items())) or 'none'}")
    payments = result["scanned"]["payments"]
    cpu = f"{cpu_s:.1f} s = {1000 * cpu_s / max(payments, 1):.2f} ms per payment (target < 1 ms)" if cpu_s else "n/a"
    say(f"peak RSS (sweep process) {rss_mib:.0f} MiB (target < 200 MiB); CPU {cpu}")
    return Figures(args.invoices, len(hits), len(truth.lost), len(false_alarms), bool(result["partial"]), s_all, f_all,
                   s_list, f_list, candidates, wall, floor, floor_s, floor_f, rss_mib, cpu_s, payments, fp_checks,
                   floor_served, timeline, floor_phased)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--invoices", type=int, default=10_000)
    ap.add_argument("--referrals", type=int, default=5_000)
    ap.add_argument("--commissions", type=int, default=2_000)
    ap.add_argument("--lost", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds the sweep may run before it is killed")
    ap.add_argument("--buckets", type=float, default=0.0, help="print each kind of call per this many seconds")
    ap.add_argument("--save", help="a directory to keep the sweep's JSON result and its log in")
    measure(ap.parse_args())


if __name__ == "__main__":
    main()
