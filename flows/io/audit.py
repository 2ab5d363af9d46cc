"""The workspace's access record: an append-only, hash-chained log of publishes, pulls and failures.

`<workspace>/audit/audit.jsonl` holds one JSON object per line. Each entry carries `seq`, the
`prev` hash (the previous entry's `hash`, or 64 zeros for the first) and its own `hash` =
sha256 of the entry's canonical JSON without `hash`. Editing, deleting or reordering any entry
breaks the chain at that point, and `verify_chain` names it. Appends take an exclusive lock on
`audit.lock`, so concurrent commands never fork the chain.

A chain alone cannot stop someone who rewrites the whole file consistently; each publish therefore
records the chain head (seq and hash) inside the release manifest, which the publisher signs, and
`verify_chain` checks those anchors against the log.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

AUDIT_DIR = "audit"
AUDIT_LOG = "audit.jsonl"
GENESIS = "0" * 64
ACTIONS = ("publish", "pull", "pull_refused", "verify_failed", "pull_failed")


def audit_path(workspace: Path) -> Path:
    """Return the workspace's audit log path."""
    return Path(workspace) / AUDIT_DIR / AUDIT_LOG


def entry_hash(entry: dict[str, Any]) -> str:
    """Return sha256 over the entry's canonical JSON (sorted keys, no spaces), `hash` left out."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def current_actor(team: str | None) -> dict[str, str]:
    """Return who is acting: OS user, host, and the team named on the command line or in $YULIAO_TEAM."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"user": user, "host": socket.gethostname(), "team": team or os.environ.get("YULIAO_TEAM") or ""}


def _last_entry(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        step = 4096
        pos = end
        buf = b""
        while pos > 0:
            pos = max(0, pos - step)
            fh.seek(pos)
            buf = fh.read(end - pos)
            lines = buf.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or pos == 0:
                return json.loads(lines[-1])
    return None


def append_event(workspace: Path, action: str, *, actor: dict[str, str], ref: str | None = None,
                 digest: str | None = None, level: str | None = None, outcome: str = "ok",
                 detail: str = "") -> dict[str, Any]:
    """Append one event to the workspace's audit log under its lock; return the entry written."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    path = audit_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name("audit.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        last = _last_entry(path)
        entry = {"seq": (last["seq"] + 1) if last else 1, "at": datetime.now(timezone.utc).isoformat(),
                 "action": action, "outcome": outcome, "actor": actor, "ref": ref, "digest": digest,
                 "level": level, "detail": detail, "prev": last["hash"] if last else GENESIS}
        entry["hash"] = entry_hash(entry)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return entry


def read_entries(workspace: Path) -> list[dict[str, Any]]:
    """Return the audit log's entries in file order (an unreadable line raises ValueError naming it)."""
    path = audit_path(workspace)
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not a JSON entry ({exc.msg}); the log was edited or damaged") from None
    return out


def head(workspace: Path) -> dict[str, Any] | None:
    """Return {seq, hash} of the last entry, or None for an empty log."""
    last = _last_entry(audit_path(workspace))
    return {"seq": last["seq"], "hash": last["hash"]} if last else None


@dataclass(frozen=True)
class ChainProblem:
    """One place where the chain does not hold."""

    line: int
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"line {self.line} (seq {self.seq}): {self.problem}"


def chain_problems(entries: list[dict[str, Any]], anchors: list[tuple[str, dict[str, Any]]] | None = None) -> list[ChainProblem]:
    """Return every broken link: bad hash, wrong prev, seq gap, or a signed release anchor the log no longer holds."""
    problems = []
    prev = GENESIS
    by_seq: dict[int, str] = {}
    for line, e in enumerate(entries, 1):
        seq = e.get("seq")
        if e.get("hash") != entry_hash(e):
            problems.append(ChainProblem(line, seq, "entry hash does not match its content (entry edited)"))
        if e.get("prev") != prev:
            problems.append(ChainProblem(line, seq, "prev does not match the hash of the entry before it "
                                                   "(an entry before it was removed, inserted or edited)"))
        if seq != line:
            problems.append(ChainProblem(line, seq, f"seq {seq} where {line} was expected (entries removed or reordered)"))
        prev = e.get("hash", "")
        if isinstance(seq, int):
            by_seq[seq] = e.get("hash", "")
    for ref, anchor in anchors or []:
        seq, h = anchor.get("seq"), anchor.get("hash")
        if by_seq.get(seq) != h:
            problems.append(ChainProblem(seq or 0, seq, f"{ref}'s signed manifest records the log head at seq {seq} "
                                                        f"with hash {str(h)[:16]}…, which the log no longer holds (log rewritten)"))
    return problems
