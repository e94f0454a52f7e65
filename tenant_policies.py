"""Tenant policies: read from SUPPORTFLOW_POLICY_DIR, checked, holidays expanded, cached once per process.

The gateway, the CLI, `start_case` and the `load_policy` activity all read
policies through here, so a file is parsed once per change, whoever asks.
This is the only place that touches the `holidays` package: named holidays
become explicit dates before a policy reaches a workflow.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays as holiday_tables
import yaml
from pydantic import ValidationError

from workflows.policy import LoadedPolicy, Policy, years_around

# Names are checked against this span, so a holiday introduced recently
# (Juneteenth, 2021) is still a valid name.
NAME_CHECK_YEARS = range(2015, 2041)
TENANT = re.compile(r"[a-z0-9][a-z0-9_-]*")


class PolicyLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so pydantic names the field of an impossible one (2027-02-30)."""


PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class PolicyError(ValueError):
    """A policy file that cannot be used, with every problem as `field.path: problem`."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {problem}" for path, problem in problems))


def policy_dir() -> Path:
    return Path(_policy_dir_name())


def _policy_dir_name() -> str:
    return os.environ.get("SUPPORTFLOW_POLICY_DIR", "policies")


def policy_path(tenant: str) -> Path:
    return Path(policy_file(tenant))


def policy_file(tenant: str) -> str:
    """`policy_path` as a string: every open stats it, and building a `Path` cost more than the stat (issue 17)."""
    return os.path.join(_policy_dir_name(), f"{tenant}.yaml")


def read_policy_file(path: str | Path) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise PolicyError(str(path), [("(file)", problem.strerror or str(problem))]) from None
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str) -> Policy:
    try:
        raw = yaml.load(text, Loader=PolicyLoader)
    except yaml.YAMLError as problem:
        raise PolicyError(source, [("(yaml)", str(problem).replace("\n", " "))]) from None
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError) as problem:
        # PyYAML's constructors raise these for values such as 2027-02-30 or `!!int abc`.
        raise PolicyError(source, [("(yaml)", f"{type(problem).__name__}: {problem}"[:300])]) from None
    if not isinstance(raw, dict):
        raise PolicyError(source, [("(file)", "a policy file must be a YAML mapping")])
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as invalid:
        raise PolicyError(source, [(_field_path(e["loc"], raw), _problem(e)) for e in invalid.errors()]) from None
    problems = policy.reference_problems() + holiday_name_problems(policy)
    if problems:
        raise PolicyError(source, problems)
    return policy


def holiday_name_problems(policy: Policy) -> list[tuple[str, str]]:
    calendar = policy.calendar
    if not calendar.holiday_country:
        return []
    try:
        table = holiday_tables.country_holidays(calendar.holiday_country, years=NAME_CHECK_YEARS)
    except NotImplementedError:
        return [
            ("calendar.holiday_country", f"{calendar.holiday_country!r} is not a country the holidays package knows")
        ]
    known = {name for names in table.values() for name in names.split("; ")}
    return [
        (f"calendar.holiday_names[{i}]", f"{name!r} is not a {calendar.holiday_country} holiday name")
        for i, name in enumerate(calendar.holiday_names)
        if name not in known
    ]


def expand_holidays(policy: Policy, first_year: int, last_year: int) -> LoadedPolicy:
    """Explicit dates plus the country's named (and observed) holidays for those years."""
    calendar = policy.calendar
    dates = set(calendar.holidays)
    if calendar.holiday_country:
        wanted = set(calendar.holiday_names) | {f"{name} (observed)" for name in calendar.holiday_names}
        table = holiday_tables.country_holidays(calendar.holiday_country, years=range(first_year, last_year + 1))
        dates |= {day for day, names in table.items() if wanted & set(names.split("; "))}
    expanded = policy.model_copy(update={"calendar": calendar.model_copy(update={"holidays": sorted(dates)})})
    loaded = LoadedPolicy(policy=expanded, first_year=first_year, last_year=last_year)
    content = loaded.model_dump_json(exclude={"digest"}).encode()
    return loaded.model_copy(update={"digest": hashlib.sha256(content).hexdigest()})


class UnknownTenant(LookupError):
    """No policy file for this tenant: a caller's mistake, never fixed by retrying."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        super().__init__(
            f"no policy for tenant {tenant[:80]!r} ({policy_dir() / (tenant[:80] + '.yaml')} does not exist)"
        )


def tenant_policy(tenant: str) -> Policy:
    """The tenant's policy as written (holidays not expanded); an edited file is read again."""
    return _read_unchanged(*_stamp(tenant))


def loaded_policy(tenant: str, year: int) -> LoadedPolicy:
    """The tenant's policy with holidays expanded for the years a case received in `year` needs."""
    return _expand_unchanged(*_stamp(tenant), *years_around(year))


def _stamp(tenant: str) -> tuple[str, int, int]:
    """The file's identity as of now; every open asks."""
    if not TENANT.fullmatch(tenant or ""):
        raise UnknownTenant(tenant)
    path = policy_file(tenant)
    try:
        stat = os.stat(path)
    except OSError:
        raise UnknownTenant(tenant) from None
    return path, stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _read_unchanged(path: str, mtime_ns: int, size: int) -> Policy:
    """Parsing and checking every holiday name costs ~20 ms; each request would pay it."""
    return read_policy_file(path)


@lru_cache(maxsize=64)
def _expand_unchanged(path: str, mtime_ns: int, size: int, first_year: int, last_year: int) -> LoadedPolicy:
    return expand_holidays(_read_unchanged(path, mtime_ns, size), first_year, last_year)


def _problem(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required field is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _field_path(loc: tuple[Any, ...], raw: Any) -> str:
    """`escalations.response_breach[1].via`, as the author wrote it."""
    parts: list[str] = []
    node = raw
    for i, key in enumerate(loc):
        # A ladder written as a bare list is wrapped in {steps: …} before validation.
        if key == "steps" and isinstance(node, list) and i >= 2 and loc[0] == "escalations":
            continue
        # pydantic marks a bad mapping key (an unknown ladder name) with a trailing "[key]".
        if key == "[key]":
            continue
        if isinstance(key, int) and isinstance(node, list):
            parts.append(f"[{key}]")
        else:
            parts.append(("." if parts else "") + str(key))
        if isinstance(node, dict):
            node = node.get(key, node.get(str(key)))
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
    return "".join(parts) or "(file)"
