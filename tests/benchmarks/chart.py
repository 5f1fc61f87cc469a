"""The suite's PNG: one panel per part, ours beside the same-run baseline, targets as lines."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.figures import Figure


def _find(figures: list[Figure], group: str, *words: str) -> list[Figure]:
    return [f for f in figures if f.group == group and all(w in f.name for w in words)]


def _bars(ax, labels: list[str], ours: list[float], base: list[float | None], base_name: str) -> None:  # noqa: ANN001
    xs = range(len(labels))
    width = 0.38
    ax.bar([x - width / 2 for x in xs], ours, width, label="ours", color="#2b6cb0")
    if any(b is not None for b in base):
        ax.bar([x + width / 2 for x in xs], [b or 0 for b in base], width, label=base_name, color="#a0aec0")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.legend(fontsize=7)


def _label(ax, title: str, ylabel: str, xlabel: str = "") -> bool:  # noqa: ANN001
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.legend(fontsize=7)
    return True


def _freshness(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    rows = [(d, {s: f.value for f in _find(figures, "freshness", d) for s in ("p50", "p95", "max") if f" {s} " in f.name})
            for d in ("queued", "direct")]
    rows = [(d, v) for d, v in rows if v]
    if not rows:
        return False
    stats = ("p50", "p95", "max")
    width = 0.25
    for i, stat in enumerate(stats):
        ax.bar([x + (i - 1) * width for x in range(len(rows))], [v.get(stat, 0) for _, v in rows], width, label=stat)
    ax.set_xticks(range(len(rows)), [f"{d}\n(baseline: today's queue)" if d == "queued" else d for d, _ in rows], fontsize=8)
    ax.axhline(0.5, color="green", linestyle="--", linewidth=0.8, label="direct p50 target")
    ax.axhline(2.0, color="orange", linestyle="--", linewidth=0.8, label="queued p50 target")
    return _label(ax, "Freshness", "upload -> Iceberg commit (s)")


def _burst(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    found = _find(figures, "burst", "files/s")
    if not found:
        return False
    _bars(ax, [f.name.split(" ")[0] for f in found], [f.value for f in found], [f.baseline for f in found],
          "MinIO PUTs alone")
    ax.axhline(200, color="green", linestyle="--", linewidth=0.8, label="target")
    return _label(ax, f"Burst ({found[0].detail.get('files', '?')} files of 100 rows)", "files/s")


def _bulk(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    found = _find(figures, "scale", "bulk") or _find(figures, "bulk", "rows/s")
    if not found:
        return False
    labels = [f"{f.detail.get('csv_mb', 0):,.0f} MB" for f in found]
    _bars(ax, labels, [f.value / 1e3 for f in found], [(f.baseline or 0) / 1e3 for f in found], "pyarrow -> Parquet")
    ratio = _find(figures, "bulk", "ours / baseline")
    return _label(ax, "Bulk CSV" + (f" (ratio {ratio[0].value:.2f}, target 0.7)" if ratio else ""), "thousand rows/s")


def _scale(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    def curve(direct_one: list[Figure], more: list[Figure]) -> list[tuple[int, float]]:
        points = [(1, f.value) for f in direct_one] + [(int(f.name.rsplit(" ", 2)[-2]), f.value) for f in more]
        return sorted(points)

    burst = curve(_find(figures, "burst", "direct", "files/s"), _find(figures, "scale", "burst"))
    fresh = curve(_find(figures, "freshness", "direct p50"), _find(figures, "scale", "freshness"))
    if len(burst) < 2:
        return False
    ax.plot([c for c, _ in burst], [v for _, v in burst], marker="o", label="burst files/s")
    ax.set_xticks([c for c, _ in burst])
    if len(fresh) >= 2:
        right = ax.twinx()
        right.plot([c for c, _ in fresh], [v for _, v in fresh], marker="s", color="#dd6b20", label="freshness p50 (s)")
        right.set_ylabel("freshness p50 (s)")
        right.legend(fontsize=7, loc="lower right")
    return _label(ax, "Scale out (direct delivery)", "files/s", "listener instances (one consumer group)")


def _ledger(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    found = _find(figures, "ledger", "load 500")
    if not found:
        return False
    sizes = [f.detail["size"] for f in found]
    ax.plot(sizes, [f.value for f in found], marker="o", label="ours: load 500 new files")
    if all(f.baseline is not None for f in found):
        ax.plot(sizes, [f.baseline for f in found], marker="s", color="#a0aec0", label="old ledger's check alone")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _label(ax, "Ledger cost vs history", "s", "source files already in the table")


def _downstream(ax, figures: list[Figure]) -> bool:  # noqa: ANN001
    found = _find(figures, "downstream", "the sensor's dbt step")
    latency = _find(figures, "downstream", "gold p50")
    if not found and not latency:
        return False
    labels, ours, base = [], [], []
    if latency:
        labels.append("commit -> gold p50")
        ours.append(latency[0].value)
        base.append(None)
    if found:
        labels.append("dbt after a load")
        ours.append(found[0].value)
        base.append(found[0].baseline)
    _bars(ax, labels, ours, base, "full dbt build")
    return _label(ax, "Downstream (selective build)", "s")


PANELS = (_freshness, _burst, _bulk, _scale, _ledger, _downstream)


def draw(figures: list[Figure], path: Path, title: str) -> Path:
    """Draw every panel that has figures into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    drawn = 0
    for ax in axes.flat:
        ax.set_visible(False)
    for panel in PANELS:
        ax = axes.flat[drawn]
        ax.set_visible(True)
        if panel(ax, figures):
            drawn += 1
        else:
            ax.clear()
            ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
