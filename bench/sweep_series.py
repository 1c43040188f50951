"""`fpcheck sweep` over months of growing size: wall time beside the rate-limit floor, peak RSS.

For each size (paid invoices; referrals half as many, commissions a fifth, 100 lost), bench/sweep.py's
measure() seeds fresh stand-ins, runs `fpcheck sweep --since 31d --json` in a child process with
every upstream call --latency slower, and the floor the client-side rate limits allow for the calls
that run made is computed from the same run's call counts.  Prints one row per size (with the
sweep process's peak RSS and CPU per payment), then the largest size's RSS against the smallest's.
Usage: python bench/sweep_series.py [--latency 0.02] [--sizes 2500,10000,40000,100000] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import measure  # noqa: E402  (bench/sweep.py, beside this file)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--sizes", default="2500,10000,40000")
    ap.add_argument("--lost", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds each sweep may run before it is killed")
    args = ap.parse_args()
    rows = []
    for size in (int(x) for x in args.sizes.split(",") if x.strip()):
        run = argparse.Namespace(latency=args.latency, invoices=size, referrals=max(size // 2, 2 * args.lost),
                                 commissions=size // 5, lost=args.lost, timeout=args.timeout)
        f = measure(run, quiet=True)
        rows.append(f)
        print(f"{size:>8,} payments: found {f.found}/{f.seeded}, false alarms {f.false_alarms}, partial={f.partial}, "
              f"wall {f.wall:.1f} s, floor {f.floor:.1f} s, {f.wall / max(f.floor, 1e-9):.2f}x (with the stand-in's "
              f"serving {f.floor_served:.1f} s, {f.wall / max(f.floor_served, 1e-9):.2f}x; by phase {f.floor_phased:.1f} s, "
              f"{f.wall / max(f.floor_phased, 1e-9):.2f}x), RSS {f.rss_mib:.0f} MiB, "
              f"CPU {_cpu(f)}, checks' FP calls {f.fp_check_calls}", flush=True)
        print("          timeline: " + "; ".join(f"{k} {n:,} in {a:.0f}-{b:.0f} s" for k, n, a, b in f.timeline or ()),
              flush=True)
    print()
    print(f"latency {args.latency * 1000:.0f} ms/call; floor = the slower of Stripe (18/s after 5) and FirstPromoter "
          "(300/min, 20/s) for the calls made")
    print("| payments | found | partial | Stripe calls (lists) | FP calls (lists) | wall s | floor s (Stripe / FP) "
          "| wall/floor | floor with the stand-in's serving s | wall/that | floor by phase s | wall/that "
          "| peak RSS MiB | CPU per payment |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in rows:
        print(f"| {f.invoices:,} | {f.found}/{f.seeded} | {f.partial} | {f.stripe_calls:,} ({f.stripe_listing:,}) | "
              f"{f.fp_calls:,} ({f.fp_listing:,}) | {f.wall:.1f} | {f.floor:.1f} ({f.floor_stripe:.1f} / "
              f"{f.floor_fp:.1f}) | {f.wall / max(f.floor, 1e-9):.2f} | {f.floor_served:.1f} | "
              f"{f.wall / max(f.floor_served, 1e-9):.2f} | {f.floor_phased:.1f} | {f.wall / max(f.floor_phased, 1e-9):.2f} | "
              f"{f.rss_mib:.0f} | {_cpu(f)} |")
    if len(rows) > 1:
        a, z = rows[0], rows[-1]
        print(f"\nfrom {a.invoices:,} to {z.invoices:,} payments ({z.invoices / a.invoices:g}x): peak RSS "
              f"{z.rss_mib / a.rss_mib:.2f}x, wall/floor {a.wall / max(a.floor, 1e-9):.2f} -> "
              f"{z.wall / max(z.floor, 1e-9):.2f}")


def _cpu(f) -> str:  # type: ignore[no-untyped-def]
    return f"{1000 * f.cpu_s / max(f.payments, 1):.2f} ms" if f.cpu_s else "n/a"


if __name__ == "__main__":
    main()
