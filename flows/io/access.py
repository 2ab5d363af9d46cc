"""Access policy for pulls: which team may take releases up to which classification level.

The policy is a small YAML file (`<workspace>/access-policy.yaml`, or --policy / $YULIAO_ACCESS_POLICY):

    default_max_level: internal        # teams not listed, and pulls without --team
    teams:
      asr-team:
        max_level: sensitive
        datasets: {demo: core}         # per-dataset override

Without a policy file, releases up to `internal` may be pulled and anything above is refused. The
check runs in the pulling process: it is a guard rail and a record, not an access control the
file system enforces (docs/releases.md says what that means).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

POLICY_ENV = "YULIAO_ACCESS_POLICY"
POLICY_FILE = "access-policy.yaml"
DEFAULT_MAX_LEVEL = "internal"


class PolicyError(ValueError):
    """The policy file is unreadable or names something it should not."""


@dataclass(frozen=True)
class TeamRule:
    """One team's ceiling, with per-dataset overrides."""

    max_level: str
    datasets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccessPolicy:
    """Team -> highest level it may pull; `source` says where the policy came from."""

    default_max_level: str = DEFAULT_MAX_LEVEL
    teams: dict[str, TeamRule] = field(default_factory=dict)
    source: str = "built-in default (no policy file)"

    def ceiling(self, team: str | None, dataset: str) -> str:
        """Return the highest level `team` may pull of `dataset`."""
        rule = self.teams.get(team or "")
        if rule is None:
            return self.default_max_level
        return rule.datasets.get(dataset, rule.max_level)


def policy_path(workspace: Path, explicit: Path | None = None) -> Path:
    """Return the policy file in use: --policy, else $YULIAO_ACCESS_POLICY, else the workspace's."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(POLICY_ENV)
    return Path(env) if env else Path(workspace) / POLICY_FILE


def parse_policy(text: str, where: str) -> AccessPolicy:
    """Parse a policy file's text (errors name the file and the key)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or set(data) - {"default_max_level", "teams"}:
        raise PolicyError(f"{where}: expected keys default_max_level and teams, got {sorted(data) if isinstance(data, dict) else type(data).__name__}")
    teams = {}
    for name, rule in (data.get("teams") or {}).items():
        if not isinstance(rule, dict) or "max_level" not in rule or set(rule) - {"max_level", "datasets"}:
            raise PolicyError(f"{where}: teams.{name} needs max_level (and optionally datasets: {{name: level}})")
        teams[str(name)] = TeamRule(str(rule["max_level"]), {str(k): str(v) for k, v in (rule.get("datasets") or {}).items()})
    return AccessPolicy(str(data.get("default_max_level", DEFAULT_MAX_LEVEL)), teams, where)


def load_policy(workspace: Path, explicit: Path | None = None) -> AccessPolicy:
    """Load the policy in use, or the built-in default when there is no file (an explicit path must exist)."""
    path = policy_path(workspace, explicit)
    if not path.is_file():
        if explicit is not None or os.environ.get(POLICY_ENV):
            raise PolicyError(f"{path}: no such policy file")
        return AccessPolicy()
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


def may_pull(policy: AccessPolicy, team: str | None, dataset: str, level: str, levels: list[str]) -> tuple[bool, str]:
    """Return (allowed, why) for `team` pulling a `level` release of `dataset` under the release's level order."""
    ceiling = policy.ceiling(team, dataset)
    if ceiling not in levels:
        return False, f"the policy ({policy.source}) gives team {team or '(none)'} level {ceiling!r}, which this release's levels {levels} do not have"
    if levels.index(level) > levels.index(ceiling):
        return False, (f"{dataset} is classified {level!r}; team {team or '(none)'} may pull up to {ceiling!r} "
                       f"under {policy.source}")
    return True, f"{level!r} <= {ceiling!r} for team {team or '(none)'} ({policy.source})"
