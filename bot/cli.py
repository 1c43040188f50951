"""`fpcheck`: check a customer from the terminal, list the checks, run the sandbox demo, serve Slack
or an AI assistant (MCP).

Exit codes: 0 nothing failed, 1 a check failed (or could not run), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import logs
from checks.catalog import CHECKS

# `fpcheck --help` and `fpcheck checks` must start fast: what only a run needs (the engine, pydantic,
# rich) is imported inside the commands that run one.
if TYPE_CHECKING:
    from checks.model import Report

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
INDEX_EXIT_MARGIN = 0.2  # seconds kept back from the deadline to print and exit


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other bad input
        self.exit(EXIT_USAGE, f"fpcheck: {message} (see fpcheck --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fpcheck", description="Why did a FirstPromoter referral earn no commission?",
                epilog="Try it with no accounts: `fpcheck demo`, or `fpcheck sandbox` and then any command.")
    p.add_argument("--version", action="version", version=f"fpcheck {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="check one customer: EMAIL or cus_ID")
    # optional here so `check --only ID ... EMAIL` works: the query is then taken from the end of --only
    c.add_argument("query", nargs="?", help="customer email or Stripe customer id (cus_...)")
    c.add_argument("--json", action="store_true", help="print the report as one JSON object")
    c.add_argument("--only", nargs="+", metavar="ID", help="run only these checks (see `fpcheck checks`)")
    c.add_argument("-v", "--verbose", action="store_true", help="show every check's evidence, not only what failed")
    ls = sub.add_parser("checks", help="list the checks, in the guide's order")
    ls.add_argument("--json", action="store_true")
    d = sub.add_parser("demo", help="run every sandbox scenario against local stand-ins (no accounts needed)")
    d.add_argument("scenario", nargs="*", help="scenarios to show in full (default: one line for each)")
    d.add_argument("--json", action="store_true", help="print one JSON report per line")
    d.add_argument("-v", "--verbose", action="store_true", help="show every check's evidence")
    d.add_argument("--list", action="store_true", help="list the scenarios and exit")
    d.add_argument("--fix", action="store_true", help="repair each fixable scenario through the sandbox's "
                   "FirstPromoter and check it again (see `fpcheck fix`)")
    d.add_argument("--fp", choices=("v2", "v1"), default="v2",
                   help="the FirstPromoter API the stand-in speaks: v2 (default) or v1 (legacy accounts)")
    ix = sub.add_parser("index", help="the promoter-campaign index: status, or refresh it now")
    ix.add_argument("action", nargs="?", choices=("status", "refresh"), default="status")
    ix.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("serve", help="run the Slack bot (Socket Mode or HTTP)", add_help=False)
    mcp = sub.add_parser("mcp", help="answer an AI assistant over the Model Context Protocol (stdio, or --http)")
    mcp.add_argument("--http", action="store_true", help="serve streamable HTTP on 127.0.0.1 instead of stdio")
    mcp.add_argument("--port", type=_port, default=8000, help="the --http port on 127.0.0.1 (default 8000)")
    from bot.doctor import add_parser as add_doctor
    from bot.fix_cli import add_parser as add_fix
    from bot.sandbox_cli import add_parser as add_sandbox
    from bot.sweep_cli import add_parser as add_sweep

    add_sweep(sub)
    add_sandbox(sub)
    add_doctor(sub)
    add_fix(sub)
    return p


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text[:20]!r}")
    return int(text)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fpcheck")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def exit_code(report: Report) -> int:
    bad = {"fail", "error"}
    return EXIT_FAIL if any(r.status.value in bad for r in report.checks) else EXIT_OK


def _print(report: Report, as_json: bool, verbose: bool = False) -> None:
    try:
        if as_json:
            print(json.dumps(report.to_json_dict()), flush=True)
        else:
            from bot.terminal import print_report

            print_report(report, verbose=verbose)
            sys.stdout.flush()
    except BrokenPipeError:  # `fpcheck check ... | head`: the reader left, which is fine
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail on a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _usage_errors() -> tuple[type[Exception], ...]:
    """Bad input or configuration (exit 2).  Called only once an exception is raised, so that
    `fpcheck --help` does not pay for importing the settings and the query parser."""
    from checks.query import QueryError
    from checks.settings import ConfigError

    return (QueryError, ConfigError)


def _only(ids: Sequence[str] | None) -> list[str] | None:
    from checks.query import QueryError

    if not ids:
        return None
    known = {c.id for c in CHECKS}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise QueryError(f"unknown check id(s): {', '.join(unknown)} (see `fpcheck checks`)")
    return list(ids)


def _split_only(args: argparse.Namespace) -> None:
    """`check --only a b EMAIL`: --only takes every word after it, so the query is its last one."""
    from checks.query import QueryError

    if args.query is None and args.only and len(args.only) > 1:
        args.query = args.only.pop()
    if args.query is None:
        raise QueryError("a customer email or Stripe customer id (cus_...) is required (see fpcheck --help)")


def cmd_check(args: argparse.Namespace, started: float) -> int:
    from bot.service import Service, parse
    from checks import deadline
    from checks.settings import load_settings

    _split_only(args)
    query = parse(args.query)
    only = _only(args.only)
    settings = load_settings()
    logs.hide(*settings.secret_values())
    # FPCHECK_DEADLINE bounds the whole command, counted from its start (imports and Redis included)
    with deadline.bound(deadline.Deadline(settings.fpcheck_deadline, start=started)):
        from checks.engine import Engine

        engine = Engine(settings)
        report = Service(engine).check(query, only=only)
    if report.setup_error:  # the configuration, not the customer: one line, never nine "could not run"
        print(f"fpcheck: {report.setup_error} (`fpcheck doctor` checks every setting)", file=sys.stderr)
        return EXIT_USAGE
    _print(report, args.json, args.verbose)
    sys.stdout.flush()
    # a build of the promoter-campaign index this run started: let it finish so the next run finds
    # it, within what is left of the deadline (it bounds the whole process)
    building = engine.campaigns.building()
    if building is not None and not building.done.is_set():
        left = settings.fpcheck_deadline - (time.monotonic() - started) - INDEX_EXIT_MARGIN
        if not engine.campaigns.join(timeout=max(0.0, left)):
            print("fpcheck: the promoter-campaign index is not whole yet; `fpcheck index refresh` reads "
                  "all of it (it takes as long as it needs)", file=sys.stderr)
    return exit_code(report)


def cmd_checks(args: argparse.Namespace) -> int:
    listed = CHECKS
    if args.json:
        print(json.dumps([{"id": r.id, "title": r.title} for r in listed]))
    else:
        width = max(len(r.id) for r in listed)
        for r in listed:
            print(f"{r.id:{width}}  {r.title}")
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    from bot.index_status import run_index

    return run_index(args.action, as_json=args.json)


def cmd_mcp(args: argparse.Namespace) -> int:
    from bot.mcp_server import serve  # the MCP SDK (starlette, uvicorn...) only for this command

    return serve(http=args.http, port=args.port)


def _demo_sweep(argv: list[str]) -> int:
    from bot.sweep_cli import add_parser as add_sweep
    from bot.sweep_demo import run_demo_sweep

    p = _Parser(prog="fpcheck demo")
    add_sweep(p.add_subparsers(dest="command", required=True, parser_class=_Parser))
    args = p.parse_args(["sweep", *argv])
    try:
        return run_demo_sweep(args)
    except _usage_errors() as exc:
        print(f"fpcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_demo(args: argparse.Namespace) -> int:
    if args.fix:
        from bot.fix_cli import run_fix_demo

        return run_fix_demo(args.scenario)
    from bot.demo import run_demo

    return run_demo(args.scenario, as_json=args.json, list_only=args.list, verbose=args.verbose,
                    fp=getattr(args, "fp", "v2"))


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # serve sets up its own logging (audit lines to stdout)
        from bot.slack.serve import main as serve

        return serve(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # one line per log record on the terminal
        handler.setFormatter(logs.OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logs.configure(logging.getLogger().handlers, default=logging.WARNING)
    if not argv:  # bare `fpcheck`: what it can do, not an error
        _parser().print_help()
        return EXIT_OK
    if argv[:2] == ["demo", "sweep"]:  # `fpcheck demo sweep` takes the sweep's own options
        return _demo_sweep(argv[2:])
    args = _parser().parse_args(argv)
    from bot.doctor import cmd_doctor
    from bot.sandbox_cli import cmd_sandbox
    from bot.sweep_cli import cmd_sweep

    handlers = {"checks": cmd_checks, "demo": cmd_demo, "sweep": cmd_sweep, "index": cmd_index,
                "sandbox": cmd_sandbox, "mcp": cmd_mcp, "doctor": cmd_doctor}
    try:
        if args.command == "check":
            return cmd_check(args, started)
        if args.command == "fix":
            from bot.fix_cli import cmd_fix

            return cmd_fix(args, started)
        return handlers[args.command](args)
    except _usage_errors() as exc:
        print(f"fpcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAIL
    except Exception as exc:  # a bug: one line, never a traceback (full detail at FPCHECK_LOG_LEVEL=debug)
        logging.getLogger("fpcheck").debug("unexpected error", exc_info=True)
        print(f"fpcheck: unexpected error ({type(exc).__name__}); run again with FPCHECK_LOG_LEVEL=debug "
              "for details", file=sys.stderr)
        return EXIT_FAIL


def run() -> None:
    """The `fpcheck` command.  After a check it leaves at once: reads the deadline gave up on may
    still sit in worker threads, and the interpreter would otherwise join them before exiting."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] == ["serve"]:
        raise SystemExit(code)  # serve shuts down gracefully, finishing checks under way
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # BrokenPipeError is an OSError
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
