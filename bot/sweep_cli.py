"""`fpcheck sweep`: the terminal face of the sweep (a summary line and a table by cause, --json, --csv).

Exit codes: 0 nothing looks lost, 1 something does (or the sweep could not read everything),
2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from checks.catalog import CHECKS

if TYPE_CHECKING:  # the engine is imported only when a sweep runs, so `fpcheck --help` starts fast
    from checks.sweep.run import Progress, SweepResult
    from checks.sweep.window import Window

EXIT_OK, EXIT_FAIL = 0, 1
EXAMPLES = 3
MAX_TOO_EARLY = 20  # lines of too-early payments in the terminal (--json has them all)

# What to do about each cause, in one line (the full report of an example says more).  A payment
# too young to tell is never under a cause (SweepResult.too_early, with its own line), so
# payment.timing here is always a payment made before its referral existed: waiting cannot fix it.
# what to do about each cause: the catalog's hints (checks/catalog.py), plus the diagnoses that could not run
HINTS: dict[str, str] = {
    **{c.id: c.hint for c in CHECKS},
    "error": "The diagnosis could not run for these: run `fpcheck check` on an example.",
}


def add_parser(sub: Any) -> None:
    s = sub.add_parser("sweep", help="find the payments of a period whose commission looks lost")
    s.add_argument("--since", metavar="AGE", help="how far back: 24h, 7d, 2w (default 7d)")
    s.add_argument("--from", dest="start", metavar="DATE", help="start date (YYYY-MM-DD, in FPCHECK_TZ)")
    s.add_argument("--to", dest="end", metavar="DATE", help="end date, inclusive (default: now)")
    fmt = s.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per lost payment")
    s.add_argument("--limit", type=_positive, metavar="N", help="diagnose at most N candidates (newest first)")


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:20]!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def cmd_sweep(args: argparse.Namespace) -> int:
    from checks.settings import load_settings

    settings = load_settings()
    from checks.sweep.run import Sweeper
    from checks.sweep.window import parse_window, zone

    tz = zone(settings.fpcheck_tz)
    window = parse_window(args.since, args.start, args.end, now=datetime.now(UTC), tz=tz)
    settings.require_sweepable()
    with progress_bar() as tick:
        result = Sweeper(settings, limit=args.limit).run(window, progress=tick)
    print_result(result, window, tz, as_json=args.json, as_csv=args.csv)
    return exit_code(result)


def exit_code(result: SweepResult) -> int:
    return EXIT_FAIL if result.lost or result.partial else EXIT_OK


def print_result(result: SweepResult, window: Window, tz: tzinfo, *, as_json: bool = False,
                 as_csv: bool = False) -> None:
    if as_json:
        print(json.dumps(result.to_json_dict()))
    elif as_csv:
        sys.stdout.write(to_csv(result))
    else:
        print(render(result, window, tz))


# ---------------------------------------------------------------------- progress on stderr


def progress_bar(stream: Any = None) -> AbstractContextManager[Progress]:
    """A rich progress bar on stderr while the sweep reads and diagnoses; nothing when stderr is
    not a terminal (logs, pipes, CI)."""
    stream = stream if stream is not None else sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        return nullcontext(lambda step, n, total: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class _Bar(AbstractContextManager[Callable[[str, int, int | None], None]]):
        def __enter__(self) -> Callable[[str, int, int | None], None]:
            self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), console=Console(file=stream), transient=True)
            self.p.__enter__()
            self.read = self.p.add_task("reading Stripe and FirstPromoter (rows)", total=None)
            self.check = self.p.add_task("diagnosing candidates", total=None, visible=False)
            return self.tick

        def tick(self, step: str, n: int, total: int | None) -> None:
            task = self.read if step == "read" else self.check
            if total is not None:
                self.p.update(task, total=total, visible=True)
            if n:
                self.p.advance(task, n)

        def __exit__(self, *exc: object) -> None:
            self.p.__exit__(None, None, None)

    return _Bar()


# ---------------------------------------------------------------------- text


def usd(amount: float) -> str:
    return f"${amount:,.0f}" if amount >= 100 else f"${amount:,.2f}"


def summary_line(result: SweepResult, window: Window) -> str:
    """"30 days: 4,812 payments, 1,904 from referrals, 23 look lost, $2,140; 17 × lead.uid, ...\""""
    n = len(result.lost)
    head = (f"{window.label()}: {result.scanned['payments']:,} payments, "
            f"{result.scanned['referral_payments']:,} from referrals, ")
    if n == 0:
        head += "none looks lost"
    else:
        head += f"{n:,} look{'s' if n == 1 else ''} lost, {usd(result.lost_amount_usd)}"
        others = sorted({cur for c in result.by_cause.values() for cur in c.other_currencies})
        if others:
            head += f" (plus {', '.join(o.upper() for o in others)})"
        head += "; " + ", ".join(f"{c.count} × {cid}" for cid, c in result.by_cause.items())
    if result.too_early:
        ids = [e.payment.id for e in result.too_early]
        shown = ", ".join(ids[:EXAMPLES]) + (f", +{len(ids) - EXAMPLES} more" if len(ids) > EXAMPLES else "")
        head += f"; {len(ids):,} too early to tell ({shown})"
    if result.partial:
        head += " (PARTIAL: see below)"
    return head


def render(result: SweepResult, window: Window, tz: tzinfo, width: int | None = None) -> str:
    """The sweep as the terminal shows it, wrapped to `width` (the terminal's, 80 when piped; COLUMNS
    overrides)."""
    import shutil

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = io.StringIO()
    width = width or shutil.get_terminal_size((80, 24)).columns
    console = Console(file=out, width=max(width, 40), force_terminal=False, color_system=None, highlight=False)
    console.print(Text(summary_line(result, window)))
    if result.by_cause:
        table = Table(show_lines=False, box=None, pad_edge=False)
        for col, just in (("cause", "left"), ("count", "right"), ("amount", "right"), ("examples", "left")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for cid, cause in result.by_cause.items():
            examples = [lo for lo in result.lost if lo.verdict.check == cid][:EXAMPLES]
            lines = [f"{lo.query} · {lo.payment.id} · {_local(lo.payment.paid_at, tz)}" for lo in examples]
            hint = HINTS.get(cid, "Run `fpcheck check` on an example for the full report.")
            amount = usd(cause.amount_usd) + "".join(
                f" + {v:,.2f} {k.upper()}" for k, v in cause.other_currencies.items())
            table.add_row(Text(cid), str(cause.count), amount, Text("\n".join(lines + [f"→ {hint}"])))
        console.print()
        console.print(table)
    if result.too_early:
        console.print()
        console.print(Text(too_early_text(result, tz)))
    if result.incomplete:
        console.print()
        console.print(Text("Not everything could be read, so this result is partial:"))
        for reason in result.incomplete:
            console.print(Text(f"  - {reason}"))
    console.print()
    console.print(Text(f"Full report for one person: fpcheck check EMAIL · {result.duration_ms / 1000:.1f} s, "
                       f"{result.calls.get('stripe', 0):,} Stripe and "
                       f"{result.calls.get('firstpromoter', 0):,} FirstPromoter calls"))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()).rstrip("\n")


def too_early_text(result: SweepResult, tz: tzinfo) -> str:
    """The payments FirstPromoter has not had its ~2 minutes for yet: not lost, not yet credited."""
    from checks.trail import TRACKING_DELAY

    n, minutes = len(result.too_early), math.ceil(TRACKING_DELAY.total_seconds() / 60)
    lines = [f"Too early to tell: {n:,} payment{'s' if n != 1 else ''} from referrals made under {minutes} minutes "
             f"before the sweep (FirstPromoter needs about {minutes} minutes to credit one):"]
    lines += [f"  {e.query} · {e.payment.id} · {_local(e.payment.paid_at, tz)}" for e in result.too_early[:MAX_TOO_EARLY]]
    if n > MAX_TOO_EARLY:
        lines.append(f"  …and {n - MAX_TOO_EARLY:,} more (--json lists them all)")
    lines.append("→ Run the sweep again in a few minutes for these.")
    return "\n".join(lines)


def _local(iso: str, tz: tzinfo) -> str:
    t = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(tz)
    return t.strftime("%Y-%m-%d %H:%M ") + (t.tzname() or "")


# ---------------------------------------------------------------------- CSV

CSV_COLUMNS = ("payment_id", "paid_at", "amount", "currency", "query", "referral_id", "referral_state",
               "promoter", "cause", "status", "summary", "matched_by")
# where a spreadsheet could start a formula: the cell's start (before = + - @, a tab, CR or LF) and
# every line's start inside it (a CR or LF, then = + - @, a tab or another CR)
_FORMULA_STARTS = re.compile(r"^(?=[=+\-@\t\r\n])|(?<=[\r\n])(?=[=+\-@\t\r])")
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: the cell, and each line in it, starting with = + - @ (or a
    tab/CR) gets a leading ' (OWASP's CSV-injection advice).  Strings come from Stripe and FirstPromoter."""
    text = "" if value is None else str(value)
    return _FORMULA_STARTS.sub("'", text)


def csv_row(cells: Iterable[str]) -> str:
    """One CSV row ending in LF, as csv.writer writes it, except that a cell with a CR is quoted too:
    csv.writer leaves a lone CR bare when rows end in LF, and a spreadsheet takes it for a new row."""
    return ",".join(_quoted(c) for c in cells) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def to_csv(result: SweepResult) -> str:
    from checks import money

    rows = [csv_row(CSV_COLUMNS)]
    for lo in result.lost:
        p = lo.payment
        major = f"{p.amount / 10 ** money.exponent(p.currency):.{money.exponent(p.currency)}f}"
        rows.append(csv_row(cell(v) for v in (
            p.id, p.paid_at, major, p.currency, lo.query, lo.referral.id, lo.referral.state, lo.referral.promoter,
            lo.verdict.check, lo.verdict.status.value, lo.verdict.summary, " ".join(lo.matched_by),
        )))
    return "".join(rows)
