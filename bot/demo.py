"""`fpcheck demo`: the real engine against the seeded sandbox, one report per scenario."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.terminal import render, use_color
from checks.engine import Engine
from checks.query import QueryError, parse_query
from checks.sandbox.runner import Sandbox
from checks.sandbox.scenarios import SCENARIOS, Scenario


def _pick(names: Sequence[str]) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise QueryError(f"unknown scenario(s): {', '.join(unknown)} (see `fpcheck demo --list`)")
    return [known[n] for n in names]


def run_demo(names: Sequence[str], as_json: bool = False, list_only: bool = False) -> int:
    if list(names) == ["sweep"]:  # `fpcheck demo sweep`: a sweep over a seeded month
        from bot.sweep_demo import run_demo_sweep

        return run_demo_sweep(as_json=as_json)
    chosen = _pick(names)
    if list_only:
        for s in chosen:
            print(f"{s.name:20} {s.email:32} {s.breaks or 'healthy':15} {s.story}")
        return 0
    color = use_color()
    with Sandbox() as sb:
        if not as_json:
            print(f"fpcheck demo: Stripe stand-in at {sb.stripe.url}, FirstPromoter stand-in at {sb.fp.url}")
            print(f"{len(chosen)} scenarios, each a customer whose commission went missing for one reason.\n")
        for s in chosen:
            report = Engine(sb.scenario_settings(s)).check(parse_query(s.email))
            if as_json:
                print(json.dumps({"scenario": s.name, "breaks": s.breaks, **report.to_json_dict()}))
                continue
            print("=" * 100)
            print(f"Scenario {s.name}: {s.story}")
            print("-" * 100)
            print(render(report, color=color))
            print()
    return 0
