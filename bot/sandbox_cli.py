"""`fpcheck sandbox`: the Stripe and FirstPromoter stand-ins, seeded, running until stopped.

Every other command can then be tried against them with no accounts at all: `check`, `sweep`,
`index` and `serve` read the settings it prints (`export` lines) or writes (`--env-file`).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

LOG_RESET_EVERY = 60.0  # seconds: the stand-ins keep a request log for tests; a long run must not grow it


def add_parser(sub: Any) -> None:
    s = sub.add_parser("sandbox", help="run local Stripe and FirstPromoter stand-ins and print the settings to use")
    s.add_argument("--env-file", metavar="PATH", help="write the settings to this file (e.g. .env) instead of printing them")
    s.add_argument("--stripe-port", type=int, default=0, metavar="N", help="port of the Stripe stand-in (default: any free one)")
    s.add_argument("--fp-port", type=int, default=0, metavar="N", help="port of the FirstPromoter stand-in (default: any free one)")
    s.add_argument("--month", action="store_true",
                   help="seed a month of payments with lost commissions (for `fpcheck sweep`) instead of the scenarios")
    s.add_argument("--fixes", action="store_true",
                   help="let the FirstPromoter stand-in take the fix flow's writes and set FPCHECK_ALLOW_FIXES=true "
                        "(for `fpcheck fix --apply`)")
    s.add_argument("--fp", choices=("v2", "v1"), default="v2",
                   help="the FirstPromoter API the stand-in speaks: v2 (default) or v1 (legacy accounts)")
    s.add_argument("--for", dest="seconds", type=float, metavar="SECONDS", help="stop after this long (default: Ctrl-C)")


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.runner import Sandbox

    if args.fp == "v1" and (args.month or args.fixes):
        from checks.settings import ConfigError

        raise ConfigError("sandbox: --month and --fixes exist for FirstPromoter v2 only (v1 has no commission "
                          "search by Stripe id and no import API)")
    sb = Sandbox(month=args.month, writes=args.fixes, fp=args.fp)
    sb.start(stripe_port=args.stripe_port, fp_port=args.fp_port)
    try:
        env = {**sb.env(), **({"FPCHECK_ALLOW_FIXES": "true"} if args.fixes else {})}
        if args.env_file:
            path = Path(args.env_file)
            path.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
            print(f"fpcheck sandbox: wrote the settings to {path} (fpcheck reads .env in the working directory)")
        else:
            for k, v in env.items():
                print(f"export {k}={shlex.quote(v)}")
        sys.stdout.flush()  # a shell reading these lines gets them now, while the sandbox runs on
        print(_hint(sb, args), file=sys.stderr, flush=True)
        _wait(sb, args.seconds)
    finally:
        sb.stop()
    return 0


def _hint(sb: Any, args: argparse.Namespace) -> str:
    load = (f"run fpcheck in {Path(args.env_file).resolve().parent}, where it reads {Path(args.env_file).name}"
            if args.env_file and Path(args.env_file).name == ".env" else
            f"in another shell run `set -a; . {Path(args.env_file).resolve()}; set +a`" if args.env_file else
            "start it as `fpcheck sandbox > sandbox.env &` and run `. ./sandbox.env` in the shell you use")
    tries = ("fpcheck sweep --since 31d" if args.month else
             "fpcheck check healthy@example.com, fpcheck check trial@example.com, fpcheck sweep, fpcheck index")
    if args.fp == "v1":
        tries = "fpcheck check healthy@example.com, fpcheck check uid-mismatch@example.com, fpcheck doctor"
    if args.fixes:
        tries += ", fpcheck fix uid-mismatch@example.com (then --apply --yes, and check it again after a moment)"
    return (f"fpcheck sandbox: Stripe stand-in at {sb.stripe.url}, FirstPromoter stand-in at {sb.fp.url}. "
            f"To use them, {load}; then try {tries} (`fpcheck demo --list` names every seeded customer). "
            "Ctrl-C stops the sandbox.")


def _wait(sb: Any, seconds: float | None) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    until = time.monotonic() + seconds if seconds is not None else None
    while not stop.is_set():
        left = LOG_RESET_EVERY if until is None else min(LOG_RESET_EVERY, until - time.monotonic())
        if left <= 0 or stop.wait(left):
            break
        sb.stripe.reset_log()
        sb.fp.reset_log()
