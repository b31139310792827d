"""Translation of the policy context's state into its published contract messages."""

from __future__ import annotations

from typing import Any

from ten99_contracts import CoverageTerms

__all__ = ["terms"]


def terms(coverage: Any) -> CoverageTerms:
    """A coverage (domain object or row: the same attribute names) as its contract terms."""
    return CoverageTerms(
        coverage_id=coverage.id,
        policy_id=coverage.policy_id,
        assignment_id=coverage.assignment_id,
        contractor_id=coverage.contractor_id,
        coverage_types=list(coverage.coverage_types),
        effective_date=coverage.effective_date,
        end_date=coverage.end_date,
        status=coverage.status,
        net_rate=coverage.net_rate,
        gl_net_rate=coverage.gl_net_rate,
        wc_net_rate=coverage.wc_net_rate,
    )
