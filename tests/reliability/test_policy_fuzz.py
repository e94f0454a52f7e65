"""A policy file never crashes the loader: whatever the text, `parse_policy` returns a Policy or raises PolicyError.

A policy is written by hand, and a crash here is a case that never opens
(`load_policy` retries an unexpected error forever) or a 500 at the gateway.
Run with `-s` to see how many inputs each property tried.

The last tests pin the escapes this fuzzing found (YAML constructor errors,
deep nesting, durations too long for any calendar), now PolicyErrors.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_policies import PolicyError, parse_policy
from workflows.policy import Policy

pytestmark = pytest.mark.takes(10)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parents[2]
SOURCE = "fuzzed.yaml"
SHIPPED = {path.stem: yaml.safe_load(path.read_text()) for path in sorted((REPO / "policies").glob("*.yaml"))}
FUZZ = settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
tried: Counter[str] = Counter()


def parse_or_explain(name: str, text: str) -> None:
    """The property: a Policy, or a PolicyError that names the file and a field path."""
    tried[name] += 1
    try:
        policy = parse_policy(text, SOURCE)
    except PolicyError as problem:
        assert problem.problems, "a PolicyError lists at least one problem"
        assert str(problem).startswith(f"{SOURCE}: ")
        assert all(path and why for path, why in problem.problems), problem.problems
        return
    assert isinstance(policy, Policy)


def report(name: str) -> None:
    print(f"\n{name}: {tried[name]} inputs tried")


# --- values a policy author might write, right or wrong ------------------------------

DURATION_LIKE = st.from_regex(r"\A(?:0|[1-9][0-9]{0,25}|-1|1\.5|)[mhdsw]?\Z")
HOURS_LIKE = st.from_regex(r"\A[0-9]{1,3}:[0-9]{1,3}-[0-9]{1,3}:[0-9]{1,3}\Z")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    DURATION_LIKE,
    HOURS_LIKE,
    st.dates(),
    st.sampled_from(
        [
            "24x7",
            "business",
            "email",
            "sms",
            "voice",
            "chat",
            "webhook",
            "oncall",
            "support-team",
            "America/Chicago",
            "Mars/Olympus",
            "US",
            "XX",
            "mon",
            "funday",
            "http://hooks.example/x",
            "ftp://x",
            "+15555550100",
            "555-0100",
            "New Year's Day",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=12), SCALARS), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a loaded policy, to pick one to break."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def broken_policies(draw: st.DrawFn) -> str:
    """A shipped policy with a few fields replaced, removed or added, written back as YAML."""
    policy = copy.deepcopy(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = draw(st.sampled_from(paths(policy)))
        *parents, last = where
        node = policy
        try:
            for key in parents:
                node = node[key]
            action = draw(st.sampled_from(["replace", "remove", "add"]))
            if action == "replace":
                node[last] = draw(VALUES)
            elif action == "remove":
                del node[last]
            elif isinstance(node, dict):
                node[draw(st.text(max_size=12))] = draw(VALUES)
            else:
                node.append(draw(VALUES))
        except (KeyError, IndexError, TypeError):  # an earlier change already replaced this part
            continue
    return yaml.safe_dump(policy, sort_keys=False, allow_unicode=True)


# Text a hand-edited file really contains: unquoted dates and times, tags, anchors, tabs, bad indentation.
LINE_FRAGMENTS = st.sampled_from(
    [
        "tenant: blockit",
        "calendar:",
        "  timezone: America/Chicago",
        "  hours: {mon: [09:00-17:00]}",
        "  holidays: [2027-11-26]",
        "  holidays: [2027-02-30]",
        "  holidays: [2027-13-01]",
        "severities:",
        "  1:",
        "    response: {within: 30m, clock: 24x7}",
        "    resolution: {within: 2d, clock: business}",
        "  - a",
        "- b",
        "escalations: {response_breach: [{notify: [nobody], via: [fax], wait: 1m}]}",
        "x: !!int abc",
        "x: !!float z",
        "x: !!timestamp soon",
        "x: !!binary ===",
        "x: !!python/object:os.system {}",
        "a: &a [*a]",
        "b: *nope",
        "\ttab: 1",
        "? complex",
        ": key",
        "{",
        "]",
        "'",
        '"',
        "---",
        "...",
        "%YAML 1.1",
        "key: |",
        "  literal",
        "k: 99999999999999999999999999",
        "k: 0x_",
        "k: 1_000",
        "k: .inf",
        "k: ~",
        "<<: {a: 1}",
        "<<: 3",
    ]
)


@st.composite
def hand_edited_text(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(LINE_FRAGMENTS, st.text(max_size=40)), max_size=12))
    return "\n".join(lines)


@FUZZ
@given(text=broken_policies())
def test_a_shipped_policy_with_broken_fields_loads_or_names_what_is_wrong(text: str):
    parse_or_explain("broken fields", text)


@FUZZ
@given(text=hand_edited_text())
def test_hand_edited_yaml_text_loads_or_names_what_is_wrong(text: str):
    parse_or_explain("hand-edited text", text)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_at_all_loads_or_names_what_is_wrong(text: str):
    parse_or_explain("any text", text)


def test_zz_report_inputs_fuzzed():
    """Prints the figures (pytest -s); runs after the properties above in file order."""
    for name in tried:
        report(name)
    print(f"policy parser: {sum(tried.values())} inputs in all")


# --- the escapes fuzzing found, each pinned ----------------------------------------

BLOCKIT = (REPO / "policies" / "blockit.yaml").read_text()


def test_an_impossible_unquoted_holiday_date_is_a_policy_error():
    with pytest.raises(PolicyError, match="calendar"):
        parse_policy(BLOCKIT.replace('holidays: ["2026-11-27", "2027-11-26"]', "holidays: [2027-02-30]"), SOURCE)


def test_a_bad_explicit_yaml_tag_is_a_policy_error():
    with pytest.raises(PolicyError):
        parse_policy("tenant: !!timestamp soon\n", SOURCE)


def test_absurdly_deep_nesting_is_a_policy_error():
    with pytest.raises(PolicyError):
        parse_policy("[" * 5000 + "]" * 5000, SOURCE)


def test_a_duration_too_long_for_any_calendar_is_a_policy_error():
    with pytest.raises(PolicyError, match=r"severities\.1\.response\.within"):
        parse_policy(BLOCKIT.replace("within: 30m", "within: 99999999999999999999m"), SOURCE)


def test_a_target_no_calendar_can_reach_is_a_policy_error():
    with pytest.raises(PolicyError, match=r"severities\.4\.resolution\.within"):
        parse_policy(BLOCKIT.replace("within: 10d", "within: 3000000d"), SOURCE)
