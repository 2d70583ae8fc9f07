"""``RAY2_MOCK_<FLAG>``: every flag of a parser settable by an environment variable.

Worked out from the argparse parser itself, so a new flag gets its variable with no edit here:
``--state-dir`` is ``RAY2_MOCK_STATE_DIR``. A value is converted and checked as argparse checks
the flag (its ``type`` and ``choices``), and a bad one is refused naming the variable. A switch
(a flag that takes no value) reads 1/true/yes or 0/false/no; a repeatable flag a comma-separated
list. A flag given on the command line wins over its variable, the variable over the default;
an unset or empty variable is no setting.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "RAY2_MOCK_"
TRUE_WORDS = frozenset({"1", "true", "yes"})
FALSE_WORDS = frozenset({"0", "false", "no"})


class EnvironmentValueError(ValueError):
    """A variable's value the flag would not take; the message starts with the variable."""


def long_option(action: argparse.Action) -> str:
    return next(o for o in action.option_strings if o.startswith("--"))


def env_name(action: argparse.Action) -> str:
    """``--tls-port`` -> ``RAY2_MOCK_TLS_PORT``."""
    return ENV_PREFIX + long_option(action)[2:].upper().replace("-", "_")


def serve_flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's long options, ``--help`` left out."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and any(o.startswith("--") for o in action.option_strings)
    ]


def variables(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every variable the parser reads, by name."""
    return {env_name(action): action for action in serve_flags(parser)}


def _is_switch(action: argparse.Action) -> bool:
    return action.nargs == 0


def _is_list(action: argparse.Action) -> bool:
    return isinstance(action, argparse._AppendAction)


def _convert(action: argparse.Action, name: str, raw: str) -> Any:
    """One value as argparse would make it from the command line, or the refusal."""
    kind = action.type
    try:
        value = raw if kind is None else kind(raw)  # type: ignore[operator]
    except argparse.ArgumentTypeError as exc:
        raise EnvironmentValueError(f"{name}: {exc}") from None
    except (TypeError, ValueError):
        kind_name = getattr(kind, "__name__", repr(kind))
        raise EnvironmentValueError(f"{name}: invalid {kind_name} value: {raw!r}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise EnvironmentValueError(f"{name}: invalid choice: {value!r} (choose from {choices})")
    return value


def _switch(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise EnvironmentValueError(
        f"{name}: invalid switch value: {raw!r} (use 1, true, yes or 0, false, no)"
    )


@dataclass
class FromEnvironment:
    """What the environment sets: parser defaults, lists filled in after parsing, and which
    variable each destination came from (so a later error can name it)."""

    defaults: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Destination -> the variable that set it."""

    def apply(self, parser: argparse.ArgumentParser) -> None:
        """Before parsing: the variables become the defaults, so a flag given still wins."""
        parser.set_defaults(**self.defaults)

    def fill(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        """After parsing: a repeatable flag not given on the command line takes its variable's
        list (as a default it would have been added to, not replaced)."""
        for action in serve_flags(parser):
            if action.dest in self.lists and getattr(args, action.dest) == (action.default or []):
                setattr(args, action.dest, list(self.lists[action.dest]))

    def explain(self, message: str, parser: argparse.ArgumentParser) -> str:
        """``message`` with the variables behind the flags it names."""
        named = [
            f"{long_option(action)} from {self.sources[action.dest]}"
            for action in serve_flags(parser)
            if action.dest in self.sources and long_option(action) in message
        ]
        return f"{message} ({'; '.join(named)})" if named else message


def from_environment(
    parser: argparse.ArgumentParser, environ: Mapping[str, str]
) -> FromEnvironment:
    """Read every variable of ``parser``'s flags; the first bad value raises, naming it."""
    found = FromEnvironment()
    for name, action in variables(parser).items():
        raw = environ.get(name)
        if raw is None or raw.strip() == "":
            continue
        if _is_switch(action):
            if not _switch(name, raw):
                continue
            value: Any = action.const
        elif _is_list(action):
            items = [item.strip() for item in raw.split(",") if item.strip()]
            found.lists[action.dest] = [_convert(action, name, item) for item in items]
            found.sources[action.dest] = name
            continue
        else:
            value = _convert(action, name, raw)
        earlier = found.sources.get(action.dest)
        if earlier is not None and found.defaults[action.dest] != value:
            raise EnvironmentValueError(
                f"{name}: disagrees with {earlier}, which sets the same option"
            )
        found.defaults[action.dest] = value
        found.sources[action.dest] = name
    return found
