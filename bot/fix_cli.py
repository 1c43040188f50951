"""`fpcheck fix QUERY`: the repair fpcheck would make for a customer's report, and with `--apply`,
making it through FirstPromoter's API.

Without `--apply` it only reads and prints the plan.  Exit codes: 0 a fix is planned (or was
applied), 1 none is possible (the reason is printed) or applying it did not succeed, 2 bad input or
configuration (fixes off, `--apply` without a terminal and without `--yes`, a `--customer` that
could not be the payer).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from typing import Any

from bot import logs
from bot.visible import visible

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
_CUSTOMER = re.compile(r"^cus_[A-Za-z0-9]{1,64}$")


def add_parser(sub: Any) -> None:
    f = sub.add_parser("fix", help="plan (and with --apply, make) the FirstPromoter repair for a customer's report")
    f.add_argument("query", help="customer email or Stripe customer id (cus_...)")
    f.add_argument("--customer", metavar="cus_ID", help="the paying customer, when several could be the payer")
    f.add_argument("--apply", action="store_true", help="make the change (needs FPCHECK_ALLOW_FIXES=true)")
    f.add_argument("--yes", action="store_true", help="with --apply: do not ask (needed without a terminal)")
    f.add_argument("--json", action="store_true", help="print the plan (and what was applied) as one JSON object")


def _say(lines: list[str], stream: Any = None) -> None:
    for line in lines:
        print(visible(line) if not line.startswith("  ") else "  " + visible(line[2:]), file=stream or sys.stdout)


def cmd_fix(args: argparse.Namespace, started: float) -> int:
    from bot.service import parse
    from checks import deadline
    from checks.fix.plan import FixPlan
    from checks.fix.settings import load_fix_settings
    from checks.query import QueryError
    from checks.settings import ConfigError, load_settings

    query = parse(args.query)
    if args.customer is not None and not _CUSTOMER.match(args.customer.strip()):
        raise QueryError("--customer must be a Stripe customer id (cus_...)")
    customer = args.customer.strip() if args.customer else None
    settings = load_settings()
    fixes = load_fix_settings()
    logs.hide(*settings.secret_values())
    if args.apply and not fixes.fpcheck_allow_fixes:
        raise ConfigError("fixes are off: set FPCHECK_ALLOW_FIXES=true to let fpcheck write to FirstPromoter "
                          "(without --apply, `fpcheck fix` only shows the plan)")
    if args.apply and not args.yes and not sys.stdin.isatty():
        raise ConfigError("--apply asks before writing; without a terminal, add --yes")
    actor = _actor()
    with deadline.bound(deadline.Deadline(settings.fpcheck_deadline, start=started)):
        from checks.engine import Engine
        from checks.fix.diagnose import diagnose
        from checks.fix.planner import plan_fix

        engine = Engine(settings)
        report, facts = diagnose(engine, query)
    if report.setup_error:
        print(f"fpcheck: {report.setup_error} (`fpcheck doctor` checks every setting)", file=sys.stderr)
        return EXIT_USAGE
    try:
        planned = plan_fix(report, facts, customer=customer, actor=actor, settle_s=fixes.fpcheck_fix_recheck_delay)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if not isinstance(planned, FixPlan):
        return _no_fix(planned, args.json)
    if args.apply and planned.needs_choice:
        raise QueryError("several customers could be the payer: pick one with --customer cus_... "
                         f"({', '.join(c.customer_id for c in planned.candidates)})")
    if not args.apply:
        _show(planned, args.json, None)
        return EXIT_OK
    if not args.json:
        _say(_plan_lines(planned))
    if not args.yes and not _confirm():
        print("Nothing was changed.")
        return EXIT_FAIL
    return _apply(planned, engine, fixes, actor, args.json)


def _actor() -> str:
    try:
        return f"{getpass.getuser()} (terminal)"
    except (KeyError, OSError):  # no user name in a bare container
        return "someone at a terminal"


def _plan_lines(plan: Any) -> list[str]:
    from checks.fix.words import plan_lines

    return plan_lines(plan)


def _no_fix(nofix: Any, as_json: bool) -> int:
    from checks.fix.words import nofix_lines

    if as_json:
        print(json.dumps({"plan": None, "no_fix": nofix.model_dump(mode="json"), "applied": None}))
    else:
        _say(nofix_lines(nofix))
    return EXIT_FAIL


def _show(plan: Any, as_json: bool, result: Any) -> None:
    if as_json:
        print(json.dumps({"plan": plan.model_dump(mode="json"), "no_fix": None,
                          "applied": result.model_dump(mode="json", exclude={"plan"}) if result else None}))
        return
    _say(_plan_lines(plan))
    if plan.needs_choice:
        print("Pick the payer with --customer cus_... (then --apply to make the change).")
    else:
        print("Nothing was changed: add --apply to make this change (FPCHECK_ALLOW_FIXES=true).")


def _confirm() -> bool:
    try:
        answer = input("Apply this change in FirstPromoter? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _apply(plan: Any, engine: Any, fixes: Any, actor: str, as_json: bool) -> int:
    from bot.fix_audit import record_fix
    from bot.service import new_ref
    from checks.fix.apply import apply_plan
    from checks.fix.settings import writer_for

    writer = writer_for(engine.settings, engine.wiring.fp_limiter)
    try:
        result = apply_plan(plan, writer, batch_wait=fixes.fpcheck_fix_batch_wait)
    finally:
        writer.close()
    record_fix(result, via="terminal", user=actor, where="terminal", ref=new_ref())
    if as_json:
        _show(plan, True, result)
    else:
        print(("✓ " if result.outcome in ("applied", "pending") else "✗ ") + visible(result.summary))
        for step in result.steps:
            answer = json.dumps(step.answer, separators=(",", ":"))[:300] if step.answer is not None else ""
            print("  " + visible(f"{step.call}: {step.status or step.error or ''} {answer}".rstrip()))
        if result.outcome in ("applied", "pending"):
            print(visible(f"FirstPromoter needs about {plan.settle_s / 60:.0f} min to show it: then run "
                          f"`fpcheck check {plan.query}`."))
    return EXIT_OK if result.outcome in ("applied", "pending") else EXIT_FAIL


def run_fix_demo(names: list[str]) -> int:
    """`fpcheck demo --fix [NAME…]`: each fixable scenario from failed report to credited commission, against
    the sandbox with FirstPromoter's write routes on (nothing outside 127.0.0.1 is touched)."""
    from bot.fix_audit import record_fix
    from bot.service import new_ref
    from checks.engine import Engine
    from checks.fix.apply import apply_plan
    from checks.fix.diagnose import diagnose
    from checks.fix.plan import FixPlan
    from checks.fix.planner import plan_fix
    from checks.fix.settings import writer_for
    from checks.query import QueryError, parse_query
    from sandbox.runner import Sandbox
    from sandbox.scenarios import SCENARIOS

    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise QueryError(f"unknown scenario(s): {', '.join(unknown)} (see `fpcheck demo --list`)")
    chosen = [known[n] for n in names] if names else list(SCENARIOS)
    with Sandbox(writes=True) as sb:
        for s in chosen:
            engine = Engine(sb.scenario_settings(s))
            report, facts = diagnose(engine, parse_query(s.email))
            planned = plan_fix(report, facts, actor="fpcheck demo")
            if not isinstance(planned, FixPlan) or planned.needs_choice:
                if names:
                    print(visible(f"{s.name}: no fix ({getattr(planned, 'reason', 'a person picks the payer')})"))
                continue
            print(visible(f"{s.name}: {report.verdict.status.value} ({report.verdict.check}) → {planned.title}"))
            writer = writer_for(engine.settings)
            try:
                result = apply_plan(planned, writer, batch_wait=2.0, poll=0.1)
            finally:
                writer.close()
            record_fix(result, via="terminal", user="fpcheck demo", where="sandbox", ref=new_ref())
            after = engine.check(parse_query(s.email))
            credited = after.result("fp.commission")
            print("  " + visible(f"{result.outcome}: {result.summary}"))
            print("  " + visible(f"re-checked: {after.verdict.status.value}; fp.commission "
                                 f"{credited.status.value if credited else '-'}: "
                                 f"{credited.summary[:160] if credited else ''}"))
    return EXIT_OK
