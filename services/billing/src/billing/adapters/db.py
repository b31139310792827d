"""The billing service's tables."""

from __future__ import annotations

from ten99kit import kit_tables, make_metadata

__all__ = ["metadata"]

metadata = make_metadata()
outbox, inbox, dead_letters = kit_tables(metadata)
