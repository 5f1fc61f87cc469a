"""Which assets lie downstream of which, from the asset specs alone (no Definitions needed).

The sensor is part of the Definitions it would otherwise have to resolve, so it
gets this plain-graph answer instead of an ``AssetSelection`` resolved at run time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import dagster as dg


def downstream_of(specs: Iterable[dg.AssetSpec], roots: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    """Every asset among ``specs`` that depends, directly or not, on one of ``roots`` (roots excluded)."""
    children: dict[dg.AssetKey, set[dg.AssetKey]] = defaultdict(set)
    for spec in specs:
        for dep in spec.deps:
            children[dep.asset_key].add(spec.key)
    start = set(roots)
    found: set[dg.AssetKey] = set()
    frontier = list(start)
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found - start
