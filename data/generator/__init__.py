"""Deterministic generator of the FutureMobility mock data.

Modules: ``config`` (counts, timeline, dirt rates), ``reference`` (static
vocabularies), ``core`` (seeded streams, dates), ``dirt`` (dirt plans and
flaws), ``writers`` (deterministic CSV/JSON/gzip files), one module per source
(``entities``, ``sales``, ``reviews``, ``chargenet``, ``vehicle_health``,
``documents``) and ``pipeline`` (order, manifest). Entry point: ``generate``.
"""

from data.generator.pipeline import DATASETS, generate

__all__ = ["DATASETS", "generate"]
