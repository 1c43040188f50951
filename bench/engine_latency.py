"""How long one check takes against the stand-ins when every upstream call costs LATENCY seconds.

Prints, per scenario and as medians: the run's wall time; the floor (the longest chain of
dependent upstream calls times the latency: no implementation can be faster); and the time of
doing every call one after another (the calls this run made times the latency).  Target: the
run finishes in under 2x the floor.  Usage: python bench/engine_latency.py [--latency 0.15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from checks.cache import MemoryCache
from checks.engine import Engine
from checks.query import parse_query
from sandbox.runner import Sandbox
from sandbox.scenarios import SCENARIOS

# The longest chain of calls that cannot start before the previous one answered, for an email
# query with a cold cache: referral lookup -> (promoter campaigns, 2 pages: page 2 waits for page 1)
# -> the campaign's tracking coupon in Stripe.  Customers -> invoices is 2 deep and runs beside it.
COLD_CHAIN = 3
# fpcheck's own Stripe pacing in test mode (checks/ratelimit.py): a run with many Stripe calls (seven
# customers read, say) cannot finish before its calls past the burst have been paced out
STRIPE_RATE, STRIPE_BURST = 18.0, 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.15, help="seconds added to every upstream call")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lat = args.latency
    rows = []
    with Sandbox(latency=lat) as sb:
        for s in SCENARIOS:
            walls, calls = [], 0
            for _ in range(args.repeat):
                engine = Engine(sb.scenario_settings(s), cache=MemoryCache())  # cold cache each time
                t0 = time.perf_counter()
                report = engine.check(parse_query(s.email))
                walls.append(time.perf_counter() - t0)
                calls = sum(report.calls.values())
                stripe_calls = report.calls.get("stripe", 0)
            paced = max(0, stripe_calls - STRIPE_BURST) / STRIPE_RATE + lat
            rows.append((s.name, statistics.median(walls), calls, max(COLD_CHAIN * lat, paced)))
    floor = COLD_CHAIN * lat
    print(f"latency per upstream call: {lat * 1000:.0f} ms; longest dependent chain: {COLD_CHAIN} calls "
          f"= floor {floor * 1000:.0f} ms; repeat {args.repeat} (median)")
    print("a run's own floor is the larger of that and its Stripe calls paced at 18/s after a burst of 5")
    print(f"{'scenario':22} {'wall ms':>8} {'calls':>6} {'floor ms':>9} {'one-by-one ms':>14} {'wall/floor':>11} "
          f"{'wall/one-by-one':>16}")
    for name, wall, calls, own in rows:
        print(f"{name:22} {wall * 1000:8.0f} {calls:6d} {own * 1000:9.0f} {calls * lat * 1000:14.0f} "
              f"{wall / own:11.2f} {wall / (calls * lat):16.2f}")
    walls = [w for _, w, _, _ in rows]
    ratios = [w / own for _, w, _, own in rows]
    med = statistics.median(walls)
    print(f"median wall {med * 1000:.0f} ms = {med / floor:.2f}x the floor (target < 2x); "
          f"worst {max(walls) * 1000:.0f} ms; against each run's own floor: median {statistics.median(ratios):.2f}x, "
          f"worst {max(ratios):.2f}x; calls per run: median {statistics.median(r[2] for r in rows):g}")


if __name__ == "__main__":
    main()
