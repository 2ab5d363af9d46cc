"""The operator registry: recipe op names -> operator classes, discovered from transforms/quality.

`op_index.json` (package data, regenerated with `python -m transforms.registry`) maps each op name
to its module, so validating a recipe imports only the modules of the ops it names: a typo fails
in about a second instead of after importing every operator's libraries. A test keeps the index
equal to what full discovery finds.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from transforms.lazy import build_once
from importlib import resources

from transforms.ops import Filter, Operator, Rule

_REGISTRY: dict[str, type[Operator]] = {}
# Packages whose modules may define operators; every module in them is imported once.
OP_PACKAGES: tuple[str, ...] = ("transforms", "quality")


def register_op(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make an operator available to recipes under its `name`."""
    name = cls.name
    if issubclass(cls, Filter) and (problems := cls.rule_problems()):
        # The report, lineage and suggest-thresholds explain a drop by its declared rule only.
        raise TypeError(f"filter {name!r}: " + "; ".join(problems))
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"operator name {name!r} registered twice ({_REGISTRY[name].__module__} and {cls.__module__})")
    _REGISTRY[name] = cls
    return cls


@build_once
def discover_ops() -> None:
    """Import every module of the operator packages so their @register_op decorators run (once, locked).

    Locked so that a thread arriving while another is still importing waits for the full registry
    instead of reading a half-filled one.
    """
    for pkg_name in OP_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg_name}."):
            importlib.import_module(info.name)


def known_ops() -> dict[str, type[Operator]]:
    """Return all registered operators by name (after discovery)."""
    discover_ops()
    return dict(sorted(_REGISTRY.items()))


def get_op_class(name: str) -> type[Operator]:
    """Return the operator class for `name` (importing only its module), or raise KeyError."""
    module = op_index().get(name)
    if module is not None:
        importlib.import_module(module)
        if name in _REGISTRY:
            return _REGISTRY[name]
    ops = known_ops()  # not in the index (a new op before the index was regenerated): full discovery
    if name not in ops:
        raise KeyError(name)
    return ops[name]


@build_once
def op_index() -> dict[str, str]:
    """Return the shipped op name -> module index."""
    return json.loads(resources.files("transforms").joinpath("op_index.json").read_text(encoding="utf-8"))


def known_op_names() -> list[str]:
    """Return every op name a recipe can use, without importing the operators."""
    names = set(op_index()) | set(_REGISTRY)
    return sorted(names)


def declared_rules() -> list[tuple[str, Rule]]:
    """Return (op name, rule) for every rule of every registered Filter, by op name then declaration order."""
    return [(name, rule) for name, cls in known_ops().items() if issubclass(cls, Filter) for rule in cls.rules]


def declared_rule(op_id: str, reason: str) -> Rule | None:
    """Return the rule this code's Filter `name@version` declares for `reason`; None for other ops or versions.

    A recorded op of another version may have decided on another rule, so only the same version is read.
    Names no operator has (release gates, ...) return None without importing any operator module.
    """
    name, _, version = op_id.partition("@")
    if name not in known_op_names():
        return None
    cls = get_op_class(name)
    if not issubclass(cls, Filter) or str(cls.version) != version:
        return None
    return cls.rule_for(reason)


def build_op_index() -> dict[str, str]:
    """Return the op name -> module index found by full discovery."""
    return {name: cls.__module__ for name, cls in known_ops().items()}


if __name__ == "__main__":
    # Run as a script this file is `__main__`; operators register into the importable module.
    from transforms import registry as _registry

    path = resources.files("transforms").joinpath("op_index.json")
    index = _registry.build_op_index()
    with resources.as_file(path) as p:
        p.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(index)} ops to {path}")
