"""The context source filter (`csf`): same grammar as `q`, evaluated against registrations, not entities."""

from __future__ import annotations

from cityos_broker.query.qlang import QExpression
from cityos_broker.query.syntax import Expand


def parse_csf(csf: str, expand: Expand) -> QExpression:
    """Validate and compile a `csf` expression; it selects context source registrations only."""
    raise NotImplementedError
