"""`fpcheck demo`: the real engine against the seeded sandbox.

Without names: one line per scenario (the verdict's mark, the scenario, the check it blames, the
summary) and how to see one in full; with names: those reports in full; `--json`: one report per line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.text import Text

from bot.terminal import MARKS, console, print_report, print_wrapped
from bot.visible import visible
from checks.engine import Engine
from checks.model import Report
from checks.query import QueryError, parse_query
from sandbox.runner import Sandbox
from sandbox.scenarios import SCENARIOS, Scenario


def _pick(names: Sequence[str]) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise QueryError(f"unknown scenario(s): {', '.join(unknown)} (see `fpcheck demo --list`)")
    return [known[n] for n in names]


def summary_line(name: str, report: Report, *, name_width: int, width: int) -> Text:
    """`✗ trial  payment.exists  No real payment yet for …`, cut to one line of `width` columns."""
    mark, style = MARKS[report.verdict.status]
    check = visible(report.verdict.check or "-")
    line = Text(f"{mark} ", style=style) + Text(f"{name:{name_width}}  ", style="bold")
    line += Text(f"{check:14}  ", style=style) + Text(visible(report.verdict.summary))
    line.truncate(width, overflow="ellipsis")
    return line


def run_demo(
    names: Sequence[str], as_json: bool = False, list_only: bool = False, verbose: bool = False
) -> int:
    if list(names) == ["sweep"]:  # `fpcheck demo sweep`: a sweep over a seeded month
        import argparse

        from bot.sweep_demo import run_demo_sweep

        return run_demo_sweep(argparse.Namespace(json=as_json, csv=False, since=None, start=None, end=None, limit=None))
    chosen = _pick(names)
    if list_only:
        for s in chosen:
            print(f"{s.name:20} {s.email:32} {s.breaks or 'healthy':15} {s.story}")
        return 0
    con = console()
    with Sandbox() as sb:
        reports = ((s, Engine(sb.scenario_settings(s)).check(parse_query(s.email))) for s in chosen)
        if as_json:
            for s, report in reports:
                print(json.dumps({"scenario": s.name, "breaks": s.breaks, **report.to_json_dict()}), flush=True)
        elif names:
            for i, (s, report) in enumerate(reports):
                if i:
                    con.print()
                print_wrapped(con, Text(f"Scenario {s.name}: {s.story}", style="bold"))
                con.print()
                print_report(report, verbose=verbose, con=con)
        else:
            print_wrapped(
                con,
                f"{len(chosen)} sandbox scenarios, each a customer whose commission went missing for one "
                "reason, checked against local stand-ins of Stripe and FirstPromoter:"
            )
            con.print()
            name_width = max(len(s.name) for s in chosen)
            for s, report in reports:
                con.print(summary_line(s.name, report, name_width=name_width, width=con.width), soft_wrap=True)
            con.print()
            print_wrapped(
                con,
                f"To see one in full: fpcheck demo NAME (for example: fpcheck demo {chosen[-1].name}); "
                "-v adds every check's evidence.",
            )
    return 0
