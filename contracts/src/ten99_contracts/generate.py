"""Write the JSON schema and golden example of every message under ``contracts/``.

Run ``python -m ten99_contracts.generate`` (``make contracts``) after changing a message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from .base import Envelope
from .examples import EXAMPLES
from .registry import all_messages

__all__ = ["render", "write"]

ROOT = Path(__file__).resolve().parents[2]


def render() -> dict[Path, str]:
    """Every file this module owns, path -> text."""
    out: dict[Path, str] = {}
    for subject, cls in all_messages().items():
        schema = msgspec.json.schema(Envelope[cls])  # type: ignore[valid-type]
        out[ROOT / "schemas" / f"{subject}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    for example in EXAMPLES:
        body = json.loads(msgspec.json.encode(example))
        out[ROOT / "examples" / f"{example.SUBJECT}.json"] = json.dumps(body, indent=2, sort_keys=True) + "\n"
    return out


def write() -> int:
    files = render()
    for folder in ("schemas", "examples"):
        for old in (ROOT / folder).glob("*.json"):
            if old not in files:
                old.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return len(files)


if __name__ == "__main__":
    print(f"wrote {write()} files", file=sys.stderr)
