"""``python -m tests.benchmarks [--quick] [--out DIR]``: the whole benchmark suite.

Prints a table, writes ``DIR/bench.json`` (every figure with the machine, the
date, its target and pass/fail) and draws ``DIR/bench.png``. Exit status 1 if
a part failed to run (a missed target is reported, not an error). See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.benchmarks import chart, suite
from tests.benchmarks.figures import table


def write(report: dict, out: Path) -> str:
    """``bench.json`` and ``bench.png`` of ``report`` into ``out``; the chart's title."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    m = report["machine"]
    title = (f"lakehouse benchmarks {report['date'][:10]}: {m['cores']} cores, {m['memory_gb']} GB"
             f"{', shared machine' if m['shared'] else ''}{' (quick)' if report['quick'] else ''}")
    chart.draw(suite.figures_of(report), out / "bench.png", title)
    return title


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version in a few minutes")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="where bench.json and bench.png go")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lakehouse-bench"),
                        help="generated CSVs (kept for the next run) and the private stack")
    parser.add_argument("--parts", default=",".join(suite.PARTS), help=f"comma-separated subset of {','.join(suite.PARTS)}")
    parser.add_argument("--dedicated", action="store_true", help="record that nothing else ran on the machine")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="run nothing: merge these bench.json files (parts run separately) into --out")
    args = parser.parse_args(argv)
    if args.merge:
        return show(suite.merge([json.loads(p.read_text(encoding="utf-8")) for p in args.merge]), args.out)
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = set(parts) - set(suite.PARTS)
    if unknown or not parts:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(suite.PARTS)}")
    plan = suite.QUICK if args.quick else suite.FULL
    report = suite.run(plan, args.workdir, parts, shared=not args.dedicated,
                       after_part=lambda so_far: write(so_far, args.out))
    return show(report, args.out)


def show(report: dict, out: Path) -> int:
    """Write and print ``report``; the exit status (1 if a part failed)."""
    print(write(report, out))
    print(table(suite.figures_of(report)))
    for part, error in report["errors"].items():
        print(f"error in {part}: {error}", file=sys.stderr)
    print(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
