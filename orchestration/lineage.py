"""Which dbt models lie downstream (or upstream) of which, from the asset specs alone.

The sensor is part of the Definitions it would otherwise have to resolve, so it
gets this plain-graph answer instead of an ``AssetSelection`` resolved at run time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

import dagster as dg


def _walk(edges: Mapping[dg.AssetKey, set[dg.AssetKey]], roots: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
    start = set(roots)
    found: set[dg.AssetKey] = set()
    frontier = list(start)
    while frontier:
        for nxt in edges.get(frontier.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                frontier.append(nxt)
    return found - start


class ModelGraph:
    """The dbt models (materializable specs) and their dependencies, bronze included."""

    def __init__(self, specs: Iterable[dg.AssetSpec]) -> None:
        self.models: set[dg.AssetKey] = set()
        self._children: dict[dg.AssetKey, set[dg.AssetKey]] = defaultdict(set)
        self._parents: dict[dg.AssetKey, set[dg.AssetKey]] = defaultdict(set)
        for spec in specs:
            self.models.add(spec.key)
            for dep in spec.deps:
                self._children[dep.asset_key].add(spec.key)
                self._parents[spec.key].add(dep.asset_key)

    def downstream(self, roots: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
        """Every model that depends, directly or not, on one of ``roots`` (roots excluded)."""
        return _walk(self._children, roots) & self.models

    def upstream(self, keys: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
        """Every model that ``keys`` depend on, directly or not (``keys`` and bronze excluded)."""
        return _walk(self._parents, keys) & self.models
