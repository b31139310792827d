"""Translation of the policy context's state into its published contract messages."""

from __future__ import annotations

from typing import Any

from ten99_contracts import CoverageTerms

__all__ = ["terms"]


#: the terms named as the coverage names them (``coverage_id`` is the coverage's ``id``)
_SAME_NAMES = tuple(name for name in CoverageTerms.__struct_fields__ if name not in ("coverage_id", "coverage_types"))


def terms(coverage: Any) -> CoverageTerms:
    """A coverage (domain object or row: the same attribute names) as its contract terms."""
    same = {name: getattr(coverage, name) for name in _SAME_NAMES}
    return CoverageTerms(coverage_id=coverage.id, coverage_types=list(coverage.coverage_types), **same)
