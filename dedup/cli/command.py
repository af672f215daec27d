"""Help that reads like a manual: no ``<bool>`` after a flag, no ``{paths}`` in a usage line.

Every ``dedup`` command is a :class:`Command` and the ``dedup`` group a :class:`Group`; both
only change how parameters are shown, never how they are parsed.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


def _no_type(ctx: Any) -> None:
    """A parameter's type column: empty (a flag takes no value; an argument names itself)."""
    return None


def _shown(params: list[Any]) -> list[Any]:
    for param in params:
        flag = isinstance(param, TyperOption) and param.is_flag
        if flag or isinstance(param, TyperArgument):
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 (this instance's own)
    return params


def _usage(param: TyperArgument) -> str:
    name = (param.metavar or param.name or "").upper()
    many = "..." if param.nargs != 1 else ""
    return f"{name}{many}" if param.required else f"[{name}{many}]"


class Command(TyperCommand):
    """A command whose help and usage line show flags and arguments plainly."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags and arguments without a type label in the help."""
        return _shown(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] PATH...`` (an argument by its name, ``...`` when it repeats)."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_usage(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Group(TyperGroup):
    """The ``dedup`` group: its own flags (``--version``, ``--help``) shown plainly too."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's parameters, flags without a type label."""
        return _shown(super().get_params(ctx))
