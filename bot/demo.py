"""`fpcheck demo`: the real engine against the seeded sandbox.

Without names: one line per scenario (the verdict's mark, the scenario, the check it blames, the
summary) and how to see one in full; with names: those reports in full; `--json`: one report per line.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence

from rich.text import Text

from bot.terminal import MARKS, console, print_report, print_wrapped
from bot.visible import visible
from checks.engine import Engine
from checks.model import Report, Status
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


def _fit(line: Text, width: int) -> Text:
    line.truncate(width, overflow="ellipsis")
    return line


def what_differs(report: Report) -> str:
    """The words of the check the verdict names (the cause, not the missing commission it explains),
    without the lead-in every scenario of that check shares."""
    v = report.verdict
    if v.status is Status.PASS:
        return v.summary
    cause = report.result(v.check) if v.check else next((r for r in report.checks if r.status is v.status), None)
    text = cause.summary if cause is not None else v.summary
    for lead in ("No real payment yet for ", "No payment FirstPromoter would count for "):
        if text.startswith(lead) and ": " in text:
            return text.split(": ", 1)[1]
    recorded = re.match(r"FirstPromoter recorded commission (#\d+).*?, but (.*)", text)
    if recorded:
        return f"commission {recorded.group(1)}: {recorded.group(2)}"
    missing = re.match(r"FirstPromoter recorded no commission for .*? \(paid [^)]*\)[,;] (.*)", text)
    return missing.group(1) if missing else text


def summary_line(name: str, report: Report, *, name_width: int, width: int) -> Text:
    """`✗ trial  payment.exists  $0.00 trial invoice …`, cut to one line of `width` columns."""
    mark, style = MARKS[report.verdict.status]
    check = visible(report.verdict.check or "-")
    line = Text(f"{mark} ", style=style) + Text(f"{name:{name_width}}  ", style="bold")
    line += Text(f"{check:14}  ", style=style) + Text(visible(what_differs(report)))
    line.truncate(width, overflow="ellipsis")
    return line


def run_demo(
    names: Sequence[str], as_json: bool = False, list_only: bool = False, verbose: bool = False, fp: str = "v2"
) -> int:
    if list(names) == ["sweep"]:  # `fpcheck demo sweep`: a sweep over a seeded month
        import argparse

        from bot.sweep_demo import run_demo_sweep

        return run_demo_sweep(argparse.Namespace(json=as_json, csv=False, since=None, start=None, end=None, limit=None))
    chosen = _pick(names)
    con = console()
    if list_only:  # two lines each, to fit the width: what to type, then what differs
        name_width = max(len(s.name) for s in chosen)
        for s in chosen:
            con.print(_fit(Text(f"{s.name:{name_width}}  {s.breaks or 'healthy':14}  {s.email}"), con.width), soft_wrap=True)
            for part in textwrap.wrap(s.story, max(20, con.width - name_width - 2)):
                con.print(Text(" " * (name_width + 2) + part, style="dim"), soft_wrap=True)
        return 0
    with Sandbox(fp=fp) as sb:  # fp "v1": against the FirstPromoter v1 ("legacy") stand-in
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
