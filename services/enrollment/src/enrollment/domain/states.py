"""U.S. states as rating and eligibility know them: the 50 states and DC, and the monopolistic
workers' compensation states, where WC is only sold by the state fund (reference §5)."""

from __future__ import annotations

from ten99_contracts.coverage import MONOPOLISTIC_WC_STATES as _MONOPOLISTIC_WC_STATES

__all__ = ["MONOPOLISTIC_WC_STATES", "US_STATES", "is_us_state"]

US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
}

#: workers' comp is sold only by the state fund here; we quote such work without WC
# the one rule of which coverage a state gets lives in the contracts (the dashboard applies it too)
MONOPOLISTIC_WC_STATES: frozenset[str] = _MONOPOLISTIC_WC_STATES


def is_us_state(code: str | None) -> bool:
    return bool(code) and code in US_STATES
