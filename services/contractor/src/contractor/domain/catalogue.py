"""The job-category catalogue: the pre-approved ``jc_`` codes a job must use.

The catalogue is shared with enrollment, whose rate table is keyed by the same codes, so it is
fixed in code (a release changes it), not per company. ``GET /v1/category_codes`` lists it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CATALOGUE", "JobCategory", "category", "match_category"]


@dataclass(frozen=True)
class JobCategory:
    code: str
    name: str
    description: str
    #: other words people put in a "Job Title" column for this category
    synonyms: tuple[str, ...] = ()


CATALOGUE: tuple[JobCategory, ...] = (
    JobCategory(
        "jc_creator",
        "Content creator / influencer",
        "Creates and publishes sponsored content (posts, short videos, streams) for a brand.",
        ("content creator", "influencer", "creator", "ugc creator", "blogger", "vlogger", "streamer"),
    ),
    JobCategory(
        "jc_photographer",
        "Photographer",
        "Plans and shoots still photography on location or in a studio.",
        ("photographer", "photography", "photo"),
    ),
    JobCategory(
        "jc_videographer",
        "Videographer",
        "Films and edits video content on location or in a studio.",
        ("videographer", "video producer", "camera operator", "filmmaker"),
    ),
    JobCategory(
        "jc_model",
        "Model / talent",
        "Appears on camera or in person as a model, actor or talent.",
        ("model", "talent", "actor", "actress", "on camera talent"),
    ),
    JobCategory(
        "jc_brand_ambassador",
        "Brand ambassador",
        "Represents a brand at events, in stores or online.",
        ("brand ambassador", "ambassador", "promoter", "product demonstrator"),
    ),
    JobCategory(
        "jc_event_staff",
        "Event staff",
        "Staffs events: setup, registration, hospitality, crowd and booth support.",
        ("event staff", "event worker", "event assistant", "hospitality staff", "usher"),
    ),
    JobCategory(
        "jc_field_technician",
        "Field technician",
        "Installs, maintains or repairs equipment at customer sites.",
        ("field technician", "technician", "installer", "field tech", "service technician"),
    ),
    JobCategory(
        "jc_delivery_driver",
        "Delivery driver",
        "Picks up and delivers goods by car, van, bike or on foot.",
        ("delivery driver", "driver", "courier", "delivery"),
    ),
    JobCategory(
        "jc_software_developer",
        "Software developer",
        "Designs, writes and tests software.",
        ("software developer", "developer", "software engineer", "engineer", "programmer", "web developer"),
    ),
    JobCategory(
        "jc_designer",
        "Designer",
        "Creates graphic, product, UX or interior designs.",
        ("designer", "graphic designer", "ux designer", "ui designer", "illustrator"),
    ),
    JobCategory(
        "jc_writer",
        "Writer / editor",
        "Writes, edits or translates copy and articles.",
        ("writer", "editor", "copywriter", "journalist", "translator", "content writer"),
    ),
    JobCategory(
        "jc_consultant",
        "Consultant",
        "Advises a client on business, strategy or technical matters.",
        ("consultant", "advisor", "adviser", "strategist"),
    ),
    JobCategory(
        "jc_merchandiser",
        "Merchandiser",
        "Stocks, arranges and audits product displays in retail stores.",
        ("merchandiser", "retail merchandiser", "store merchandiser"),
    ),
    JobCategory(
        "jc_tutor",
        "Tutor / instructor",
        "Teaches or coaches individuals or groups.",
        ("tutor", "instructor", "teacher", "coach", "trainer"),
    ),
)

_BY_CODE = {c.code: c for c in CATALOGUE}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


_BY_WORDS: dict[str, str] = {}
for _c in CATALOGUE:
    for _word in (_c.name, *_c.name.split("/"), *_c.synonyms, _c.code, _c.code.removeprefix("jc_")):
        _BY_WORDS.setdefault(_norm(_word), _c.code)


def category(code: str) -> JobCategory | None:
    return _BY_CODE.get(code)


def match_category(text: str) -> str | None:
    """The code a category code or job title stands for (``"jc_photographer"``, ``"Photographer"``,
    ``"Influencer"``), or None when it matches no category."""
    if not text:
        return None
    stripped = text.strip()
    if stripped in _BY_CODE:
        return stripped
    return _BY_WORDS.get(_norm(stripped))
