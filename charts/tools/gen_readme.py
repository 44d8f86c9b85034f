"""Generate charts/cityos/README.md from the `# --` comments of charts/cityos/values.yaml.

Usage: python charts/tools/gen_readme.py [--check]. A `# -- text` comment (continued by plain `#`
lines) documents the key on the next line; the table shows its dotted path, type, default and text.
With --check nothing is written and the exit status says whether README.md is up to date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "cityos"
TEMPLATE = Path(__file__).resolve().parent / "readme-template.md"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")
_PLACEHOLDER = "{{ VALUES_TABLE }}"


@dataclass(frozen=True)
class ValueDoc:
    """One documented key of values.yaml."""

    path: str
    description: str


def documented_keys(text: str) -> list[ValueDoc]:
    """Walk values.yaml line by line, pairing each `# --` comment with the key below it."""
    docs: list[ValueDoc] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    pending: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("- "):
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if pending is not None:
            docs.append(ValueDoc(".".join(key for _, key in stack), " ".join(pending)))
            pending = None
    return docs


def _lookup(values: dict[str, Any], path: str) -> Any:
    """Return the value at a dotted path."""
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _type_name(value: Any) -> str:
    """Name the YAML type of a default value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "int or null" if value is None else type(value).__name__


def _cell(text: str) -> str:
    """Escape a Markdown table cell."""
    return text.replace("|", "\\|")


def render(values_text: str, template: str) -> str:
    """Build the README text."""
    values = yaml.safe_load(values_text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for doc in documented_keys(values_text):
        default = _lookup(values, doc.path)
        shown = json.dumps(default, separators=(", ", ": "), ensure_ascii=False)
        rows.append(f"| `{doc.path}` | {_type_name(default)} | `{_cell(shown)}` | {_cell(doc.description)} |")
    return template.replace(_PLACEHOLDER, "\n".join(rows))


def main() -> int:
    """Write or check the README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when README.md is stale")
    args = parser.parse_args()
    readme = CHART / "README.md"
    text = render((CHART / "values.yaml").read_text(), TEMPLATE.read_text())
    if args.check:
        if not readme.exists() or readme.read_text() != text:
            print(f"{readme} is stale: run python charts/tools/gen_readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
