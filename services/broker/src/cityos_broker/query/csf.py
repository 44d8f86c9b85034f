"""The context source filter (`csf`): same grammar as `q`, evaluated against registrations, not entities.

A `csf` selects the Context Source Registrations whose properties match (clause 4.9, second bullet), so a
query answered from local entities only validates it; `EntityFilter` never filters entities by it.
Registration matching applies the compiled expression to a registration in the stored entity form
(its properties under `attrs`), which is why the same compiler serves both.
"""

from __future__ import annotations

from cityos_broker.query.qlang import QExpression
from cityos_broker.query.qparse import QParser
from cityos_broker.query.syntax import Expand


def parse_csf(csf: str, expand: Expand) -> QExpression:
    """Validate and compile a `csf` expression; ProblemError 400 BadRequestData naming the position."""
    return QExpression(csf, QParser(csf, expand, "csf").parse())
