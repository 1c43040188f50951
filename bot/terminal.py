"""Render a Report for a terminal: one line per check, evidence under it, remediation where needed."""

from __future__ import annotations

import os
import sys
import textwrap

from checks.model import Report, Status

_COLORS = {
    Status.PASS: "32",
    Status.FAIL: "31",
    Status.WARN: "33",
    Status.SKIP: "90",
    Status.ERROR: "35",
}


def use_color(stream: object = sys.stdout) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def _paint(text: str, status: Status, color: bool) -> str:
    return f"\033[{_COLORS[status]}m{text}\033[0m" if color else text


def render(report: Report, color: bool = False, width: int = 100) -> str:
    lines = [f"fpcheck · {report.query} · {report.duration_ms / 1000:.1f} s"]
    v = report.verdict
    head = f"Most likely cause: [{v.check}] {v.summary}" if v.check else v.summary
    lines.append(_paint(head, v.status, color))
    lines.append("")
    wrap = textwrap.TextWrapper(width=width, subsequent_indent=" " * 8)
    for r in report.checks:
        tag = _paint(f"{r.status.value.upper():5}", r.status, color)
        lines.append(wrap.fill(f"{tag} {r.id}: {r.summary}") if not color else f"{tag} {r.id}: {r.summary}")
        for e in r.evidence:
            link = f"  <{e.url}>" if e.url else ""
            lines.append(f"        {e.label}: {e.value}{link}")
        if r.remediation and r.status in (Status.FAIL, Status.WARN):
            fix = textwrap.fill(
                r.remediation, width=width, initial_indent="        → ", subsequent_indent="          "
            )
            lines.append(fix)
    lines.append("")
    lines.append(f"Guide: {report.guide_url}")
    return "\n".join(lines)
