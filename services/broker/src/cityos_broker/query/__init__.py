"""The NGSI-LD query language: `q`, type expressions, `scopeQ`, geo-queries and the combined `EntityFilter`.

Pure code (no grpc, no redis). Every parser raises `cityos_runtime.problems.ProblemError` (400) on bad
syntax; every evaluator works on the stored entity form described in docs/broker-design.md.

- `qlang` (`compile_q`): the `q` language, built from `qparse` (grammar), `qterms` (AND / OR / terms),
  `qpath` (attribute paths on stored entities) and `qvalues` (typed literals and comparisons);
- `typeexpr`, `scopeq`: entity type selection and scope queries;
- `geo` (`parse_geo_query`) with `geometry` (GeoJSON validation) and `geodesy` (distances in metres);
- `filter` (`EntityFilter`, `IndexPlan`): all selectors of a query and the index narrowing they allow;
- `csf`: context source filters (the `q` grammar, applied to registrations).
"""

from cityos_broker.query.csf import parse_csf
from cityos_broker.query.filter import EntityFilter, IndexPlan
from cityos_broker.query.geo import GeoBox, GeoCircle, GeoQuery, parse_geo_query
from cityos_broker.query.geometry import parse_geometry
from cityos_broker.query.qlang import QExpression, compile_q
from cityos_broker.query.scopeq import ScopeQuery, parse_scope_query, validate_scope
from cityos_broker.query.syntax import Expand
from cityos_broker.query.typeexpr import TypeExpression, parse_type_expression

__all__ = [
    "EntityFilter",
    "Expand",
    "GeoBox",
    "GeoCircle",
    "GeoQuery",
    "IndexPlan",
    "QExpression",
    "ScopeQuery",
    "TypeExpression",
    "compile_q",
    "parse_csf",
    "parse_geo_query",
    "parse_geometry",
    "parse_scope_query",
    "parse_type_expression",
    "validate_scope",
]
