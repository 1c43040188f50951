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


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True, timeout=30)  # warm the OS file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    floor = median_ms([sys.executable, "-c", "pass"], args.runs)
    print(f"python -c pass      {floor:6.0f} ms  (the floor)")
    for name, cmd in (
        ("fpcheck --help", [FPCHECK, "--help"]),
        ("fpcheck checks", [FPCHECK, "checks"]),
        ("import the engine", [sys.executable, "-c", "import checks.engine, bot.terminal"]),
    ):
        ms = median_ms(cmd, args.runs)
        print(f"{name:19} {ms:6.0f} ms  = {ms / floor:4.1f}x the floor, {ms - floor:4.0f} ms above it")
    print(f"medians of {args.runs} runs each")


if __name__ == "__main__":
    main()
