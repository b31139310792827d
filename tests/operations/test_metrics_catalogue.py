"""The metrics catalogue (docs/operations/metrics.md) lists every ``ten99_*`` metric the code
defines, with its type and labels, and nothing that no longer exists."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "operations" / "metrics.md"
KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary", "Info": "info", "Enum": "enum"}


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    labels: tuple[str, ...]
    where: str


def _literal(node: ast.AST | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _definition(call: ast.Call, where: str) -> Metric | None:
    """A prometheus_client constructor call with a literal ``ten99_`` name, else None."""
    func = call.func
    kind = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if kind not in KINDS:
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    name = _literal(call.args[0] if call.args else keywords.get("name"))
    if not isinstance(name, str) or not name.startswith("ten99_"):
        return None
    labels = _literal(call.args[2] if len(call.args) > 2 else keywords.get("labelnames")) or ()
    return Metric(name, KINDS[kind], tuple(labels), where)  # type: ignore[arg-type]


def defined_metrics() -> list[Metric]:
    """Every ``ten99_*`` metric constructed in the source of libs/ and services/ (tests excluded)."""
    found = []
    for path in sorted([*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:  # a scratch file that vanished since the listing
            continue
        tree = ast.parse(text, filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (metric := _definition(node, str(path.relative_to(ROOT)))):
                found.append(metric)
    return found


def catalogued() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (type, labels) from the catalogue's table rows whose first cell is a ``ten99_`` name."""
    rows = {}
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not (m := re.fullmatch(r"`(ten99_\w+)`", cells[0])):
            continue
        labels = tuple(re.findall(r"`(\w+)`", cells[2]))
        rows[m.group(1)] = (cells[1], labels)
    return rows


def test_the_scan_finds_the_metrics_it_must() -> None:
    names = {m.name for m in defined_metrics()}
    # a scan that found nothing would pass the next test vacuously
    assert {"ten99_inbox_applied_total", "ten99_outbox_backlog", "ten99_consumer_pending", "ten99_email_attempts_total"} <= names


def test_every_metric_in_the_code_is_catalogued_with_its_type_and_labels() -> None:
    documented = catalogued()
    problems = []
    for metric in defined_metrics():
        if metric.name not in documented:
            problems.append(f"{metric.name} ({metric.where}) is missing from {CATALOGUE.name}")
            continue
        kind, labels = documented[metric.name]
        if kind != metric.kind:
            problems.append(f"{metric.name}: {metric.kind} in the code, {kind} in {CATALOGUE.name}")
        if sorted(labels) != sorted(metric.labels):
            problems.append(f"{metric.name}: labels {list(metric.labels)} in the code, {list(labels)} in {CATALOGUE.name}")
    assert problems == []


def test_the_catalogue_names_no_metric_that_does_not_exist() -> None:
    defined = {m.name for m in defined_metrics()}
    assert sorted(set(catalogued()) - defined) == []


def test_a_metric_name_is_defined_once() -> None:
    names = [m.name for m in defined_metrics()]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
