"""Start-up time of `fpcheck --help` and `fpcheck checks`, beside the interpreter's own start-up.

    .venv/bin/python bench/startup.py [--runs 21]

Each command runs `--runs` times as a fresh process (the way a person runs it); the figures are
medians in milliseconds, and the same run measures `python -c pass` with the same interpreter as the
floor no command can go below.  Target: both commands under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
FPCHECK = str(VENV_BIN / "fpcheck")


def medians_ms(cmds: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Run the commands in turn, `runs` rounds, so a busy moment slows all of them alike."""
    for cmd in cmds.values():  # warm the OS file cache
        subprocess.run(cmd, capture_output=True, check=True, timeout=30)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, timeout=30)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    floor_name = "python -c pass"
    ms = medians_ms(
        {
            floor_name: [sys.executable, "-c", "pass"],
            "fpcheck --help": [FPCHECK, "--help"],
            "fpcheck checks": [FPCHECK, "checks"],
            "import the engine": [sys.executable, "-c", "import checks.engine, bot.terminal"],
        },
        args.runs,
    )
    floor = ms.pop(floor_name)
    print(f"{floor_name:19} {floor:6.0f} ms  (the floor: the interpreter alone)")
    for name, value in ms.items():
        print(f"{name:19} {value:6.0f} ms  = {value / floor:4.1f}x the floor, {value - floor:4.0f} ms above it")
    print(f"medians of {args.runs} interleaved runs each; target: fpcheck --help and checks under 100 ms")


if __name__ == "__main__":
    main()
