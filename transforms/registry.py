"""The operator registry: recipe op names -> operator classes, discovered from transforms/quality."""

from __future__ import annotations

import importlib
import pkgutil

from transforms.ops import Operator

_REGISTRY: dict[str, type[Operator]] = {}
_DISCOVERED = False
# Packages whose modules may define operators; every module in them is imported once.
OP_PACKAGES: tuple[str, ...] = ("transforms", "quality")


def register_op(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make an operator available to recipes under its `name`."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"operator name {name!r} registered twice ({_REGISTRY[name].__module__} and {cls.__module__})")
    _REGISTRY[name] = cls
    return cls


def discover_ops() -> None:
    """Import every module of the operator packages so their @register_op decorators run."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    for pkg_name in OP_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg_name}."):
            importlib.import_module(info.name)
    _DISCOVERED = True


def known_ops() -> dict[str, type[Operator]]:
    """Return all registered operators by name (after discovery)."""
    discover_ops()
    return dict(sorted(_REGISTRY.items()))


def get_op_class(name: str) -> type[Operator]:
    """Return the operator class for `name`, or raise KeyError listing the known names."""
    ops = known_ops()
    if name not in ops:
        raise KeyError(name)
    return ops[name]
