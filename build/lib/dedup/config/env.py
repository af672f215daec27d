"""Environment overrides: a text value converted strictly to its field's type.

Both :meth:`dedup.config.Settings.with_env` (``DEDUP_<SETTING>``) and the configuration file's
source overrides (``DEDUP_SOURCE_<NAME>_<FIELD>``) read the environment through
:func:`env_overrides`, so a value such as ``"flase"`` is an error everywhere, never a silent
``False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from dedup.errors import UsageError

ENV_PREFIX = "DEDUP_"
#: The words a boolean may be written as (any case, surrounding spaces ignored).
BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_ACCEPTED = {bool: "one of " + ", ".join(BOOLEAN_WORDS), int: "a whole number such as 4",
             float: "a number such as 0.5 or 1e-5"}


def env_name(name: str, prefix: str = ENV_PREFIX) -> str:
    """The environment variable that overrides field ``name``: ``DEDUP_<NAME>`` by default."""
    return prefix + name.upper()


def from_text(raw: str, kind: type, variable: str) -> Any:
    """Convert ``raw`` to ``kind`` (bool, int, float or str), refusing anything else.

    Args:
        raw: the text, as the environment (or a quoted TOML value) holds it.
        kind: the field's type; ``str`` returns ``raw`` unchanged.
        variable: what to name in the error, e.g. ``DEDUP_WORKERS``.

    Returns:
        The typed value.

    Raises:
        UsageError: ``raw`` is not a value of ``kind``; the message names ``variable`` and the
            accepted values.

    """
    if kind is str:
        return raw
    text = raw.strip().lower()
    try:
        if kind is bool:
            return BOOLEAN_WORDS[text]
        return kind(text)
    except (KeyError, ValueError):
        raise UsageError(f"{variable}={raw!r} is not a valid {kind.__name__}; use "
                         f"{_ACCEPTED.get(kind, kind.__name__)}") from None


def env_overrides(spec: type, environ: Mapping[str, str], problems: list[str], *,
                  prefix: str = ENV_PREFIX, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The typed values of a dataclass's fields set in the environment as ``<prefix><FIELD>``.

    Args:
        spec: the dataclass whose fields (and their defaults' types) are read.
        environ: the environment.
        problems: receives one message per variable whose value is not of its field's type.
        prefix: the variables' common prefix.
        skip: fields the environment may not override.

    Returns:
        ``{field name: typed value}`` for every valid override.

    """
    changes: dict[str, Any] = {}
    for spec_field in fields(spec):
        variable = env_name(spec_field.name, prefix)
        if spec_field.name in skip or variable not in environ:
            continue
        try:
            changes[spec_field.name] = from_text(environ[variable], type(spec_field.default),
                                                 variable)
        except UsageError as exc:
            problems.append(str(exc))
    return changes
