"""A Report for a terminal, read at a glance like `brew doctor`: the verdict first, one line per check
(mark, id, summary), the evidence and the fix only under what failed, warned or could not run, and a
closing count.  `verbose` shows every check's evidence.

rich wraps to the terminal's width and colours when writing to a terminal (none when piped or under
NO_COLOR).  Every string is passed through `visible` first: most of them come from Stripe and
FirstPromoter, and none may reach the terminal as an escape sequence.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

from bot.visible import visible
from checks.model import Report, Result, Status
from checks.wording import verdict_words

MARKS: dict[Status, tuple[str, str]] = {
    Status.PASS: ("✓", "green"),
    Status.FAIL: ("✗", "bold red"),
    Status.WARN: ("!", "yellow"),
    Status.SKIP: ("-", "dim"),
    Status.ERROR: ("?", "magenta"),
}
# The closing count, in the order people scan for: what is fine, then what is not.
COUNT_WORDS: tuple[tuple[Status, str, str], ...] = (
    (Status.PASS, "passed", "passed"),
    (Status.FAIL, "failed", "failed"),
    (Status.WARN, "warning", "warnings"),
    (Status.ERROR, "could not run", "could not run"),
    (Status.SKIP, "skipped", "skipped"),
)
_DETAILED = (Status.FAIL, Status.WARN, Status.ERROR)


def console(file: IO[str] | None = None, *, width: int | None = None, color: bool | None = None) -> Console:
    """A Console for reports.  `color=None` lets rich decide: colour on a terminal, none when piped
    or when NO_COLOR is set; `width=None` is the terminal's width (80 when piped)."""
    common: dict[str, Any] = {"file": file, "width": width, "highlight": False, "markup": False, "emoji": False}
    if color is None:
        return Console(**common)
    if color:
        return Console(**common, force_terminal=True, no_color=False, color_system="standard")
    return Console(**common, force_terminal=False, color_system=None)


def count_line(results: Iterable[Result]) -> str:
    """`11 checks: 8 passed, 1 failed, 1 warning, 1 skipped` (statuses with none are left out)."""
    statuses = [r.status for r in results]
    parts = []
    for status, one, many in COUNT_WORDS:
        n = statuses.count(status)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    noun = "check" if len(statuses) == 1 else "checks"
    return f"{len(statuses)} {noun}: " + ", ".join(parts)


def _wrapped(con: Console, text: Text, width: int) -> list[Text]:
    lines = text.wrap(con, max(width, 10), overflow="fold")
    for line in lines:
        line.rstrip()
    return list(lines)


def _hanging(con: Console, first: Text, body: Text, width: int, indent: int) -> Iterator[Text]:
    """`first` then `body` wrapped into the columns after `indent` (a hanging indent)."""
    for i, line in enumerate(_wrapped(con, body, width - indent)):
        yield (first if i == 0 else Text(" " * indent)) + line


def _one_line(con: Console, first: Text, body: Text, width: int) -> Text:
    """`first` and as much of `body` as fits, with an ellipsis: a check that passed takes one line."""
    line = first + body
    line.truncate(max(width, 10), overflow="ellipsis")
    return line


def _link(con: Console, url: str, indent: int, label: str = "open in Stripe") -> Text:
    """A URL on a line of its own, never broken: on a terminal an OSC 8 hyperlink named `label`
    (the URL itself when piped, so it can be copied whole)."""
    shown = visible(url)
    # only a plain web address becomes a link: one from upstream data with anything odd in it is shown, escaped
    if con.is_terminal and shown == url and _WEB.fullmatch(url):
        return Text(" " * indent) + Text(f"{label} ↗", style=Style(color="cyan", link=url))
    return Text(" " * indent) + Text(shown, style="cyan")


def _details(result: Result) -> Iterator[tuple[Text, Text, str | None]]:
    """(lead, text, url) triples: a bullet per piece of evidence, then the fix."""
    for e in result.evidence:
        yield Text("• "), Text(f"{visible(e.label)}: ", style="dim") + Text(visible(e.value)), e.url
    if result.remediation and result.status in (Status.FAIL, Status.WARN):
        yield Text("Fix: ", style="bold"), Text(visible(result.remediation)), None


ABOVE = "the most likely cause, above"
_WEB = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")


def report_lines(report: Report, con: Console, *, width: int, verbose: bool = False) -> list[Text]:
    lines: list[Text] = []
    words = verdict_words(report)
    mark, style = MARKS[report.verdict.status]
    head = Text(visible(words.plain()), style="bold")
    lines += _hanging(con, Text(f"{mark} ", style=style), head, width, 2)
    lines.append(Text())

    id_width = max((len(visible(r.id)) for r in report.checks), default=0)
    indent = 2 + id_width + 2
    said = report.verdict.summary if report.verdict.status is Status.FAIL else None
    for r in report.checks:
        mark, style = MARKS[r.status]
        first = Text(f"{mark} ", style=style) + Text(f"{visible(r.id):{id_width}}  ", style=style)
        # the verdict already said it: the failing check points up instead of saying it twice
        summary = Text(ABOVE, style="dim") if said is not None and r.summary == said else Text(visible(r.summary))
        if r.status in (Status.PASS, Status.SKIP) and not verbose:
            lines.append(_one_line(con, first, summary, width))
            continue
        lines += _hanging(con, first, summary, width, indent)
        if verbose or r.status in _DETAILED:
            for lead, text, url in _details(r):
                # continuation lines start under the text, not under the bullet
                lines += _hanging(con, Text(" " * indent) + lead, text, width, indent + len(lead))
                if url:
                    lines.append(_link(con, url, indent + len(lead)))
    lines.append(Text())
    took = f" ({visible(report.query)}, {report.duration_ms / 1000:.1f} s)"
    lines += _wrapped(con, Text(count_line(report.checks) + took), width)
    lines.append(Text("Guide: ", style="dim") + _link(con, report.guide_url, 0, "Possible Stripe integration issues"))
    return lines


def print_wrapped(con: Console, text: str | Text) -> None:
    """One paragraph, wrapped to the console's width without trailing spaces."""
    for line in _wrapped(con, Text(text) if isinstance(text, str) else text, con.width):
        con.print(line, soft_wrap=True)


def print_report(report: Report, *, verbose: bool = False, con: Console | None = None) -> None:
    con = con or console()
    for line in report_lines(report, con, width=con.width, verbose=verbose):
        con.print(line, soft_wrap=True)


def render(report: Report, *, width: int = 100, color: bool = False, verbose: bool = False) -> str:
    """The report as the terminal shows it, at `width` columns, with or without colour codes."""
    out = io.StringIO()
    print_report(report, verbose=verbose, con=console(out, width=width, color=color))
    return out.getvalue()
