"""supportflow's environment, read one way by every process.

Any variable may instead be given as `NAME_FILE`, the path of a file that
holds the value (compose and Kubernetes secrets), so a secret never has to
sit in a process's environment. Giving both is an error: which one wins
would be a guess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class SettingsError(ValueError):
    """A variable a process cannot use; the message names it, so the operator knows what to fix."""


def value(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """`name`'s value (surrounding whitespace removed), from `name` or `name_FILE`; None when unset or empty
    (an empty secret file is how a compose stack leaves an optional feature off)."""
    env = os.environ if env is None else env
    given, path = env.get(name, "").strip(), env.get(f"{name}_FILE", "").strip()
    if given and path:
        raise SettingsError(f"{name} and {name}_FILE are both set; set only one")
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                given = file.read().strip()
        except OSError as problem:
            raise SettingsError(f"{name}_FILE={path!r}: {problem.strerror or problem}") from None
    return given or None


def required(name: str, env: Mapping[str, str] | None = None, why: str = "") -> str:
    """`name`'s value, or a SettingsError that says how to set it."""
    found = value(name, env)
    if found is None:
        raise SettingsError(
            f"{name} is not set{f' ({why})' if why else ''}; set it, or {name}_FILE to a file holding it"
        )
    return found


def one_of(name: str, given: str, choices: tuple[str, ...]) -> str:
    """`given`, lower-cased, when it is one of `choices`; otherwise a SettingsError naming `name` and the choices."""
    if given.lower() not in choices:
        listed = " or ".join(choices) if len(choices) <= 2 else f"{', '.join(choices[:-1])} or {choices[-1]}"
        raise SettingsError(f"{name}={given!r}: expected {listed}")
    return given.lower()
