"""The Slack face under abuse, on the real `fpcheck serve` (gunicorn) over 127.0.0.1: a script run
by hand that prints figures beside the same server without the guard, measured in the same run.

  1. flood: one user sends FLOOD signed /fpcheck commands as fast as they are acknowledged, then
     another user asks; seconds until that other user is answered, and with what (the report, or
     "too busy" when it waited in the queue past its deadline).  With the default limits
     (FPCHECK_USER_LIMIT=10, FPCHECK_CHANNEL_LIMIT=30) beside FPCHECK_USER_LIMIT=0 and
     FPCHECK_CHANNEL_LIMIT=0 (no limit).
  2. slow clients: SLOW connections sending a request a byte at a time (half in the headers, half in
     the body) while /healthz and a signed command are asked; seconds to each answer.  With the
     bounded reads (bot/slack/intake.py) beside gunicorn's plain gthread worker.

Medians over --runs; the Stripe and FirstPromoter stand-ins add --latency seconds to every call.

Usage: .venv/bin/python bench/slack_abuse.py [--latency 0.05] [--flood 100] [--slow 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bot")]  # the stand-ins live with the tests

from serve_process import SlowClients, flood_then_time_another, signed_command, start_serve, timed  # noqa: E402
from slack_harness import BOT_TOKEN, SIGNING_SECRET, stop_serve  # noqa: E402
from stand_ins.slack_api import SlackStandIn  # noqa: E402

from sandbox.runner import Sandbox  # noqa: E402


def serve_env(sb: Sandbox, slack: SlackStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))}
    env.update(sb.env())
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_BASE_URL=slack.api_url,
               PORT="0", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               STRIPE_SUPPRESS_NOTICES="true", **extra)
    return env


def flood(sb: Sandbox, n: int, limited: bool) -> tuple[float, str]:
    extra = {} if limited else {"FPCHECK_USER_LIMIT": "0", "FPCHECK_CHANNEL_LIMIT": "0"}
    with SlackStandIn(BOT_TOKEN) as slack, tempfile.TemporaryDirectory() as work:
        served = start_serve(serve_env(sb, slack, **extra), Path(work))
        try:
            seconds, _, answer = flood_then_time_another(served.base, slack, n=n, timeout=300)
        finally:
            stop_serve(served.proc)
    return seconds, answer


def slow(sb: Sandbox, n: int, bounded: bool) -> tuple[float, float]:
    with SlackStandIn(BOT_TOKEN) as slack, tempfile.TemporaryDirectory() as work:
        served = start_serve(serve_env(sb, slack), Path(work), bounded=bounded)
        try:
            clients = SlowClients(served.base, n)
            try:
                health = timed(served.base + "/healthz", timeout=30)
                command = timed(signed_command(served.base, slack), timeout=30)
            finally:
                clients.close()
        finally:
            stop_serve(served.proc)
    # an answer that never came (0: timed out) counts as the whole wait
    return (health[0] if health[1] else float("inf")), (command[0] if command[1] else float("inf"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--flood", type=int, default=100)
    ap.add_argument("--slow", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    with Sandbox(latency=args.latency) as sb:
        with_limits = [flood(sb, args.flood, True) for _ in range(args.runs)]
        without = [flood(sb, args.flood, False) for _ in range(args.runs)]
        bounded = [slow(sb, args.slow, True) for _ in range(args.runs)]
        unbounded = [slow(sb, args.slow, False) for _ in range(args.runs)]
    med = statistics.median
    print(f"fpcheck serve on 127.0.0.1, stand-in latency {args.latency:g} s, medians of {args.runs} runs\n")
    print(f"another user's answer after one user's {args.flood} commands (what it was, in how long):")
    for name, rows in (("with the limits (10 a minute a person, 30 a channel)", with_limits),
                       ("without (FPCHECK_USER_LIMIT=0, FPCHECK_CHANNEL_LIMIT=0)", without)):
        answers = sorted({a for _, a in rows})
        print(f"  {name}: {med(s for s, _ in rows):6.2f} s  {'; '.join(answers)}")
    print(f"  ratio {med(s for s, _ in without) / med(s for s, _ in with_limits):.1f}x")
    print(f"\n{args.slow} slow clients connected (a byte every 0.2 s), answer to:")
    print(f"  {'':24}{'/healthz':>10}{'command ack':>14}")
    for name, rows in (("bounded reads (2 s)", bounded), ("gunicorn's plain gthread", unbounded)):
        print(f"  {name:24}{med(r[0] for r in rows):9.2f}s{med(r[1] for r in rows):13.2f}s")
    print("  (inf: no answer within 30 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
