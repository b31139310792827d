"""Email rendering with Jinja2: one text and one HTML template per kind, under ``templates/``.

HTML templates are autoescaped (names come from users); text templates are not (they are not
HTML). A text template sets ``subject`` at its top level; the subject is made header-safe. Links
only ever point at http(s) URLs. No remote assets: styles are inline, no images or fonts.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from ten99kit.labels import labelled

from ..domain import one_line

__all__ = ["COVERAGE_LABELS", "EmailRenderer", "RenderedEmail"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

COVERAGE_LABELS = {"general": "General liability", "workers-comp": "Workers' compensation"}


class RenderedEmail:
    __slots__ = ("html", "subject", "text")

    def __init__(self, subject: str, text: str, html: str) -> None:
        self.subject = subject
        self.text = text
        self.html = html


def _long_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value:%B} {value.day}, {value.year}"


def _money(cents: int, currency: str = "usd") -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def _safe_url(value: str) -> str:
    url = (value or "").strip()
    return url if url.startswith(("https://", "http://")) else "#"


def _coverage(types: list[str]) -> str:
    return ", ".join(COVERAGE_LABELS.get(t, t) for t in types)


class EmailRenderer:
    def __init__(self, template_dir: Path = TEMPLATE_DIR, product_name: str = "ten99") -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(template_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # packaged templates: no stat() of the file on every email
        )
        # ``po``: a PO number with its label, said once (``PO 5555``, ``PO-5555``)
        self.env.filters.update(
            long_date=_long_date, money=_money, safe_url=_safe_url, coverage=_coverage, po=partial(labelled, "PO")
        )
        self.env.globals["product"] = product_name

    def render(self, template: str, context: dict[str, Any]) -> RenderedEmail:
        text_module = self.env.get_template(f"{template}.txt").make_module(context)
        subject = one_line(str(getattr(text_module, "subject", "")), 200)
        if not subject:
            raise ValueError(f"template {template}.txt sets no subject")
        text = str(text_module).strip() + "\n"
        html = self.env.get_template(f"{template}.html").render({**context, "subject": subject})
        return RenderedEmail(subject, text, html)
