"""``python -m bench``: run the benchmark, print the table, write JSON and Markdown results."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bench.core import REPO, SCENARIOS, BenchError, Options, iter_scenarios, main


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="hoist against bench/baseline.sh: alternating runs, medians, ratios.",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    parser.add_argument(
        "--registries", type=int, default=5, help="registries to push to (default 5)"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny mode: 1 round, 1 registry")
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO / "bench" / "results",
        help="directory for the JSON and Markdown results (default bench/results)",
    )
    args = parser.parse_args(argv)
    rounds, registries = (1, 1) if args.quick else (args.rounds, args.registries)
    if rounds < 1 or registries < 1:
        parser.error("--rounds and --registries must be at least 1")
    try:
        scenarios = tuple(iter_scenarios(args.scenarios))
    except BenchError as exc:
        parser.error(str(exc))
    return Options(
        rounds=rounds,
        registries=registries,
        scenarios=scenarios or SCENARIOS,
        output=args.output,
        command=shlex.join(["python", "-m", "bench", *argv]),
    )


if __name__ == "__main__":
    try:
        sys.exit(main(parse(sys.argv[1:])))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(1)
