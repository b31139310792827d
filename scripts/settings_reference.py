"""The settings reference (docs/operations/settings.md), generated from the settings classes.

Every service reads its settings from environment variables with its own prefix (``CONTRACTOR_``,
...), nested groups joined with ``__`` (`ten99kit.settings.service_settings_config`). This script
walks the kit's `ServiceSettings` (shared by every service) and each service's subclass, and writes
one row per variable: its type (with its bounds), its default, whether it is secret, and its
description: the field's ``Field(description=...)``, else its ``#:`` comment (the lines just above
the field) or the comment at the end of its line. Nothing is read from the environment.

    .venv/bin/python scripts/settings_reference.py           # write the document
    .venv/bin/python scripts/settings_reference.py --check   # exit 1 if the committed one is stale

``tests/operations/test_settings_reference.py`` fails while the committed document differs from
what this script builds, or while a setting has no description.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import json
import re
import sys
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "operations" / "settings.md"
SERVICES = ("gateway", "contractor", "enrollment", "policy", "billing", "notification")

#: words in a setting's name that say it holds a secret (besides a ``SecretStr`` type)
SECRET_WORDS = ("token", "key", "keys", "password", "secret")
#: settings whose name has such a word but that are not secret, and why
NOT_SECRET = {"api_key_prefix": "the public prefix every API key starts with"}


@dataclass(frozen=True)
class Setting:
    variable: str
    type: str
    default: str
    secret: bool
    description: str
    #: the class and field it comes from (``DatabaseSettings.url``), for messages
    source: str


# -- reading the classes -------------------------------------------------------------------------


def _kinds(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _group(annotation: Any) -> type[BaseModel] | None:
    """The settings group a field holds (a nested model), if it is one."""
    for kind in _kinds(annotation):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _holds_secret_type(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_holds_secret_type(a) for a in typing.get_args(annotation))


def is_secret(name: str, annotation: Any) -> bool:
    words = name.lower().split("_")
    return _holds_secret_type(annotation) or (name not in NOT_SECRET and any(w in SECRET_WORDS for w in words))


@cache
def _comments(cls: type) -> dict[str, str]:
    """field name -> its comment in the class's source: the ``#:`` lines just above it, else the
    comment at the end of its line."""
    lines, _ = inspect.getsourcelines(cls)
    source = textwrap.dedent("".join(lines))
    trailing = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    text = source.splitlines()
    found = {}
    class_def = ast.parse(source).body[0]
    assert isinstance(class_def, ast.ClassDef)
    for node in class_def.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        row = node.lineno - 2
        while row >= 0 and text[row].strip().startswith("#:"):
            above.insert(0, text[row].strip()[2:].strip())
            row -= 1
        comment = " ".join(above) or trailing.get(node.lineno, "")
        if comment.startswith("noqa"):
            comment = ""
        found[node.target.id] = comment
    return found


def _defining_class(model: type[BaseModel], field_name: str) -> type:
    for cls in model.__mro__:
        if field_name in inspect.get_annotations(cls):
            return cls
    return model


def describe(model: type[BaseModel], field_name: str, info: FieldInfo) -> str:
    if info.description:
        return " ".join(info.description.split())
    return _comments(_defining_class(model, field_name)).get(field_name, "")


# -- rendering values ----------------------------------------------------------------------------


def render_type(annotation: Any, info: FieldInfo | None = None) -> str:
    text = _type_name(annotation)
    bounds = []
    for item in info.metadata if info is not None else []:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds.append(f"{sign} {getattr(item, attr)}")
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def render_default(value: Any, *, secret: bool, development_only: bool) -> str:
    if development_only:
        return "a development-only value (refused outside development)"
    plain = _plain(value)
    if secret and plain not in ("", [], None):
        return "(set)"
    if plain is None:
        return "unset"
    if plain == "":
        return "empty"
    return f"`{json.dumps(plain)}`" if isinstance(plain, list | str) else f"`{plain}`"


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


# -- walking the settings ------------------------------------------------------------------------


def walk(
    model: type[BaseModel], prefix: str, delimiter: str, *, own_only: type | None = None, dev: frozenset[str] = frozenset()
) -> list[Setting]:
    """The leaf settings of ``model`` as environment variables under ``prefix``. ``own_only``:
    only the fields declared by that class (a service's own, not the kit's it inherits)."""
    out = []
    for name, info in model.model_fields.items():
        if own_only is not None and name not in inspect.get_annotations(own_only):
            continue
        variable = f"{prefix}{name}".upper()
        group = _group(info.annotation)
        if group is not None:
            out += walk(group, f"{variable}{delimiter}", delimiter)
            continue
        secret = is_secret(name, info.annotation)
        out.append(
            Setting(
                variable=variable,
                type=render_type(info.annotation, info),
                default=render_default(_default(info), secret=secret, development_only=name in dev),
                secret=secret,
                description=describe(model, name, info),
                source=f"{_defining_class(model, name).__name__}.{name}",
            )
        )
    return out


def service_settings(service: str) -> type[BaseModel]:
    from ten99kit.settings import ServiceSettings

    module = importlib.import_module(f"{service}.settings")
    classes = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, ServiceSettings) and c.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise RuntimeError(f"{service}.settings defines {len(classes)} ServiceSettings subclasses, expected one")
    return classes[0]


def kit_settings() -> list[Setting]:
    from ten99kit.settings import ServiceSettings

    delimiter = str(ServiceSettings.model_config.get("env_nested_delimiter"))
    return walk(ServiceSettings, "<PREFIX>", delimiter)


def own_settings(service: str) -> list[Setting]:
    cls = service_settings(service)
    prefix = str(cls.model_config.get("env_prefix"))
    delimiter = str(cls.model_config.get("env_nested_delimiter"))
    dev = frozenset(getattr(cls, "development_secrets", {}))
    return walk(cls, prefix, delimiter, own_only=cls, dev=dev)


def all_settings() -> list[Setting]:
    return [*kit_settings(), *(s for service in SERVICES for s in own_settings(service))]


# -- the document --------------------------------------------------------------------------------

HEADER = """# Settings reference

<!-- Generated by scripts/settings_reference.py from the settings classes: do not edit by hand.
     After changing a setting, run: .venv/bin/python scripts/settings_reference.py
     (tests/operations/test_settings_reference.py fails while this file is stale). -->

Every process reads its settings from environment variables once, at start-up. Each service has
its own prefix ({prefixes}); a nested setting joins its group and its name with `{delimiter}`
(`CONTRACTOR_DB__URL`), and a whole group may also be given as JSON (`CONTRACTOR_NATS='{{"replicas": 3}}'`).
Lists are JSON (`'["new-secret", "old-secret"]'`). A variable with a service's prefix that names no
setting stops the process at start-up, naming the closest setting (a typo never leaves a default
in place). Outside development (`<PREFIX>DEVELOPMENT` unset) a process refuses to start while a
secret is empty or holds its development-only default.

**Secret** marks a setting to keep in a Secret, never in a ConfigMap or a log: its type is
`SecretStr` (never printed), or its name says so. Rotation: [secret-rotation.md](secret-rotation.md).
"""


def _escape(text: str) -> str:
    """A table cell: pipes escaped (those a type already escaped stay as they are)."""
    return re.sub(r"(?<!\\)\|", "\\|", text).replace("\n", " ")


def table(settings: list[Setting]) -> str:
    rows = ["| variable | type | default | secret | description |", "|---|---|---|---|---|"]
    for s in settings:
        rows.append(
            f"| `{s.variable}` | {_escape(s.type)} | {_escape(s.default)} | "
            f"{'yes' if s.secret else ''} | {_escape(s.description)} |"
        )
    return "\n".join(rows)


def build() -> str:
    classes = {service: service_settings(service) for service in SERVICES}
    prefixes = ", ".join(f"`{c.model_config.get('env_prefix')}`" for c in classes.values())
    delimiter = next(iter(classes.values())).model_config.get("env_nested_delimiter")
    parts = [HEADER.format(prefixes=prefixes, delimiter=delimiter)]
    parts.append(
        "## Every service\n\nThe kit's settings (`ten99kit.settings`), the same in every service: `<PREFIX>` stands for "
        "the service's prefix. `<PREFIX>HTTP__PORT` defaults to the service's own port (below), "
        "`<PREFIX>DB__URL` to a SQLite file `<data_dir>/<service>.db`, and `<PREFIX>HTTP__PUBLIC_URL` to "
        "`http://<host>:<port>`.\n\n" + table(kit_settings())
    )
    for service, cls in classes.items():
        own = own_settings(service)
        title = f"## {service} (`{cls.model_config.get('env_prefix')}`, port {getattr(cls, 'default_port', '')})"
        body = table(own) if own else "No settings of its own: only the kit's above."
        parts.append(f"{title}\n\n{body}")
    return "\n\n".join(parts) + "\n"


def undescribed() -> list[str]:
    return [s.source for s in all_settings() if not s.description]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run .venv/bin/python scripts/settings_reference.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    missing = undescribed()
    if missing:
        print("settings without a description: " + ", ".join(missing), file=sys.stderr)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
