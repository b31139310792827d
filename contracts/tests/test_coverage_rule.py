"""The one rule of which coverage types a state gets (issue 15)."""

from __future__ import annotations

from ten99_contracts.coverage import coverage_offered, offers


def test_workers_comp_is_not_offered_in_the_monopolistic_states() -> None:
    for state in ("ND", "OH", "WA", "WY", "wa"):
        assert coverage_offered(["general", "workers-comp"], state) == ["general"]
        assert not offers(state, "workers-comp") and offers(state, "general")
    assert coverage_offered(["general", "workers-comp"], "CA") == ["general", "workers-comp"]
    assert coverage_offered(["workers-comp"], "WA") == []
    assert coverage_offered(["general", "workers-comp"], None) == ["general", "workers-comp"]  # state not known yet
