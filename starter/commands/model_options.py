"""Command-line options derived from a contract model, so the field list is written once.

A field `new_installation` becomes `--new-installation`; a bool becomes a
`--x/--no-x` pair; a Literal becomes a choice; a nested model (the
requester) contributes its own fields under their own names (`--email`).
Only the options given reach the model, so its defaults stay the defaults,
and its validation errors come back naming the option.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
DEST_PREFIX = "field:"


class OptionError(ValueError):
    """Options a model refused, each as `--option: problem`."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{option}: {problem}" for option, problem in problems))


@dataclass
class ModelOptions(Generic[Model]):
    """The options one model added to a parser, and how to read them back into the model."""

    model: type[Model]
    options: dict[tuple[str, ...], str] = field(default_factory=dict)  # field path → `--option`

    def build(self, args: argparse.Namespace, **fixed: Any) -> Model:
        values: dict[str, Any] = dict(fixed)
        for path in self.options:
            given = getattr(args, _dest(path), None)
            if given is None:
                continue
            target = values
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = given
        try:
            return self.model.model_validate(values)
        except ValidationError as invalid:
            raise OptionError([(self.option_for(e["loc"]), _problem(e)) for e in invalid.errors()]) from None

    def option_for(self, loc: tuple[Any, ...]) -> str:
        path = tuple(str(part) for part in loc)
        while path:
            if path in self.options:
                return self.options[path]
            path = path[:-1]
        return ".".join(str(part) for part in loc) or self.model.__name__


def add_model_options(
    parser: argparse.ArgumentParser, model: type[Model], *, exclude: Iterable[str] = (), nested: Iterable[str] = ()
) -> ModelOptions[Model]:
    """Add one option per field of `model` (fields in `nested` are flattened to their own fields)."""
    options = ModelOptions(model)
    _add_fields(parser, model, (), set(exclude), set(nested), options)
    return options


def _add_fields(
    parser, model: type[BaseModel], prefix: tuple[str, ...], exclude: set[str], nested: set[str], options: ModelOptions
) -> None:
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        annotation = _without_none(info.annotation)
        if name in nested and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _add_fields(parser, annotation, (*prefix, name), set(), set(), options)
            continue
        path = (*prefix, name)
        option = "--" + name.replace("_", "-")
        required = info.is_required() and not prefix
        extra: dict[str, Any] = {"dest": _dest(path), "default": None}
        if annotation is bool:
            extra["action"] = argparse.BooleanOptionalAction
        elif get_origin(annotation) is Literal:
            extra["choices"] = list(get_args(annotation))
        elif annotation is int:
            extra["type"] = int
            extra["metavar"] = "N"
        else:
            extra["metavar"] = name.upper()
        parser.add_argument(option, required=required, help=_help(info, required), **extra)
        options.options[path] = option


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _help(info, required: bool) -> str | None:
    parts = [info.description] if info.description else []
    if required:
        parts.append("required")
    elif info.default not in (None, False, [], "") and not info.is_required():
        parts.append(f"default {info.default}")
    return "; ".join(parts) or None


def _dest(path: tuple[str, ...]) -> str:
    return DEST_PREFIX + ".".join(path)


def _problem(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "not allowed here"
    return str(error["msg"]).removeprefix("Value error, ")
