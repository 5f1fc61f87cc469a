"""Command line: generate the FutureMobility mock data.

    python -m data.generate --out data/sample --scale 1 --seed 7 --force
    python -m data.generate --out /tmp/bench --scale 100 --only sales

Writes ``OUT/raw/...`` exactly as files land in the bucket, plus
``OUT/manifest.json``. Same seed and scale give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from data.generator.pipeline import DATASETS, MANIFEST_NAME, check_request, generate
from data.generator.writers import DatasetReport


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder (raw/ and manifest.json go here)")
    parser.add_argument("--scale", type=float, default=1.0, help="row-count multiplier, > 0 (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated datasets to write: {','.join(DATASETS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="delete OUT/raw and OUT/manifest.json first")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON instead of a summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every file written")
    return parser.parse_args(argv)


def _prepare(out: Path, force: bool) -> None:
    raw = out / "raw"
    if raw.exists() and any(raw.iterdir()):
        if not force:
            raise SystemExit(f"error: {raw} already has files; pass --force to replace them")
        shutil.rmtree(raw)
    (out / MANIFEST_NAME).unlink(missing_ok=True)


def _progress(report: DatasetReport, seconds: float) -> None:
    size = sum(f.bytes for f in report.files)
    print(f"{report.name:<15} {len(report.files):>4} files {report.records:>12,} records "
          f"{size / 1e6:>10.1f} MB {seconds:>8.2f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    try:
        check_request(args.scale, only)
        _prepare(args.out, args.force)
        started = time.perf_counter()
        manifest = generate(args.out, seed=args.seed, scale=args.scale, only=only,
                            progress=None if args.json else _progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        total = sum(f["bytes"] for d in manifest["datasets"].values() for f in d["files"])
        print(f"{'total':<15} {total / 1e6:>44.1f} MB {time.perf_counter() - started:>8.2f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
