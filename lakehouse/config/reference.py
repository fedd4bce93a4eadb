"""docs/configuration.md, generated from the pydantic models that validate the config files:
`python -m lakehouse.config.reference > docs/configuration.md` (`make docs`); a unit test fails
when the committed file and the models disagree.

Every key of config/profiles/*.yaml, config/datasets.yaml and config/pipelines.yaml with its
type, default and constraints. The explanation column is the field's trailing comment in the
model's source: pydantic keeps no comments, so they are read from the class source here.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from lakehouse import config
from lakehouse.config import pipelines as orchestration
from lakehouse.config import registry

FILES = [
    (
        "config/profiles/&lt;profile&gt;.yaml",
        config.Profile,
        "One per environment (`local`, `embedded`, `compose`, `aws`); `LAKEHOUSE_PROFILE` picks "
        "one. `${VAR}` and `${VAR:-default}` are read from the environment, then `.env`, then "
        "`.env.example`.",
    ),
    (
        "config/datasets.yaml",
        registry.Registry,
        "The dataset registry: file datasets (ingestion, SILVER contract) and operational "
        "source tables.",
    ),
    (
        "config/pipelines.yaml",
        orchestration.Pipelines,
        "Retries, timeouts, schedules, deadline and alert recipients of the generated DAGs.",
    ),
]


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (list, tuple, dict):
        args = ", ".join(_type(a) for a in typing.get_args(annotation) if a is not Ellipsis)
        return f"{origin.__name__}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _comments(model: type[BaseModel]) -> dict[str, str]:
    out = {}
    for line in inspect.getsource(model).splitlines():
        match = re.match(r"\s{4}(\w+):.*#\s*(.+)$", line)
        if match:
            out[match.group(1)] = match.group(2).strip()
    return out


def _constraints(field) -> str:
    parts = []
    for meta in field.metadata:
        for name, symbol in (
            ("ge", "≥"),
            ("gt", ">"),
            ("le", "≤"),
            ("lt", "<"),
            ("min_length", "min length"),
        ):
            value = getattr(meta, name, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation refers to (inside unions, Annotated, lists and dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _section(model: type[BaseModel], path: str, seen: set) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    comments = _comments(model)
    rows, nested = [], []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if field.is_required():
            default = "**required**"
        elif field.default is PydanticUndefined or isinstance(field.default, BaseModel):
            default = ""
        else:
            default = f"`{field.default!r}`"
        note = "; ".join(x for x in (_constraints(field), comments.get(name, "")) if x)
        rows.append(f"| `{key}` | {_type(field.annotation)} | {default} | {note} |")
        for sub in _models(field.annotation):
            suffix = "" if len(_models(field.annotation)) == 1 else f" ({sub.__name__})"
            nested.append((f"{path}.{key}" if path else key, sub, suffix))
    out = [f"### `{path or '(top level)'}` — {model.__name__}", ""]
    doc = inspect.getdoc(model)
    if doc and doc != inspect.getdoc(BaseModel):
        out += [doc.splitlines()[0], ""]
    out += ["| key | type | default | notes |", "|---|---|---|---|", *rows, ""]
    for sub_path, sub, _ in nested:
        out += _section(sub, sub_path, seen)
    return out


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models by `make docs` "
        "(`python -m lakehouse.config.reference`); do not edit by hand. Unknown keys are "
        "errors; a mistake is reported with the file and the key.",
        "",
    ]
    for title, model, text in FILES:
        out += [f"## {title}", "", text, ""]
        out += _section(model, "", set())
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
