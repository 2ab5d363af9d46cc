"""Publishing: a completed run -> an immutable `releases/<dataset>/v<N>/` that model teams can pull and trust.

A release holds zstd Parquet shards under `data/` (one file set per split, sized for streaming),
`manifest.json` (schema, rows, sha256 per file, parent, recipe, code version, run, drops, gates,
sources and licences, splits, annotation summary), a `README.md` dataset card whose YAML header
makes `datasets.load_dataset(<dir>)` work offline, `SHA256SUMS`, and the run's history:
`_dropped/` (reason, op@version, duplicate_of, cluster_id; gate drops as `gate:<name>`) and
`_quarantine/`. The card's `configs:` only names `data/`, so history is never loaded as data.

Atomicity: everything is written into `releases/<dataset>/.tmp-<uuid>/` and renamed to `v<N>` in
one `os.rename`, which fails when `v<N>` already exists; the loser of a race re-reads the versions,
rewrites its manifest for `v<N+1>` (parent `v<N>`) and tries again. A killed publisher leaves only
its hidden staging directory, which the next publisher removes once the owner pid is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
import yaml
from prefect import flow, get_run_logger, task

from flows.curate import YULIAO_VERSION
from flows.pii_guard import copy_history_part
from flows.io.recipe import ReleaseGates, ReleaseSection, parse_recipe
from flows.io.release_store import (CARD, CHECKSUMS, DATA_DIR, DROPPED_DIR, MANIFEST, QUARANTINE_DIR, REGISTRATION, RELEASE_FORMAT,
                                 ReleaseError, file_sha256, is_name_taken, list_versions, pid_alive, releases_root)
from flows.io.audit import append_event, current_actor
from flows.io.audit import head as audit_head
from flows.io.classification import ClassificationError, classify_release, pii_mode_of
from flows.io.signing import (SIGNATURE, SIGNING_KEY_ENV, KeyFileError, PrivateKey, PublicKey, default_signing_key_path,
                           file_sm3, load_private_key, signature_record)
from flows.io.store import PARQUET_COMPRESSION, conform, read_json, write_json_atomic
from transforms.schema import DROP_REASON, DROPPED_BY, DUPLICATE_OF

# Test hook: seconds to sleep right after the first data shard is complete (to kill a publisher mid-write).
PAUSE_ENV = "YULIAO_RELEASE_PAUSE_AFTER_FIRST_SHARD"
STALE_UNOWNED_SECONDS = 24 * 3600
_TOP_VALUES = 20


# ---------------------------------------------------------------- pure deciding: gates and splits


def gate_rules(gates: ReleaseGates) -> list[tuple[str, str]]:
    """Return the configured gates as (name, human-readable rule), in the order they are checked."""
    rules = [("min_score", f"{c} >= {v}") for c, v in sorted(gates.min_score.items())]
    rules += [("max_score", f"{c} <= {v}") for c, v in sorted(gates.max_score.items())]
    if gates.languages is not None:
        rules.append(("languages", f"lang in {sorted(gates.languages)}"))
    if gates.scripts is not None:
        rules.append(("scripts", f"script in {sorted(gates.scripts)}"))
    if gates.min_lang_conf is not None:
        rules.append(("min_lang_conf", f"lang_conf >= {gates.min_lang_conf}"))
    if gates.exclude_sensitivity:
        rules.append(("exclude_sensitivity", f"sensitivity not in {sorted(gates.exclude_sensitivity)}"))
    return rules


def gate_columns(gates: ReleaseGates) -> list[str]:
    """Return the columns the gates read (each must exist in the run's kept rows)."""
    cols = list(gates.min_score) + list(gates.max_score)
    cols += ["lang"] if gates.languages is not None else []
    cols += ["script"] if gates.scripts is not None else []
    cols += ["lang_conf"] if gates.min_lang_conf is not None else []
    cols += ["sensitivity"] if gates.exclude_sensitivity else []
    return list(dict.fromkeys(cols))


def gate_failures(table: pa.Table, gates: ReleaseGates) -> list[tuple[str, str, pa.Array]]:
    """Return (name, rule, fails-mask) per gate; a null value fails a threshold, passes an exclusion."""
    out: list[tuple[str, str, Any]] = []
    for col, lo in sorted(gates.min_score.items()):
        out.append(("min_score", f"{col} >= {lo}", pc.fill_null(pc.less(table.column(col), lo), True)))
    for col, hi in sorted(gates.max_score.items()):
        out.append(("max_score", f"{col} <= {hi}", pc.fill_null(pc.greater(table.column(col), hi), True)))
    if gates.languages is not None:
        ok = pc.fill_null(pc.is_in(table.column("lang"), value_set=pa.array(gates.languages, pa.string())), False)
        out.append(("languages", f"lang in {sorted(gates.languages)}", pc.invert(ok)))
    if gates.scripts is not None:
        ok = pc.fill_null(pc.is_in(table.column("script"), value_set=pa.array(gates.scripts, pa.string())), False)
        out.append(("scripts", f"script in {sorted(gates.scripts)}", pc.invert(ok)))
    if gates.min_lang_conf is not None:
        out.append(("min_lang_conf", f"lang_conf >= {gates.min_lang_conf}",
                    pc.fill_null(pc.less(table.column("lang_conf"), gates.min_lang_conf), True)))
    if gates.exclude_sensitivity:
        bad = pa.array(gates.exclude_sensitivity, pa.string())
        out.append(("exclude_sensitivity", f"sensitivity not in {sorted(gates.exclude_sensitivity)}",
                    pc.fill_null(pc.is_in(table.column("sensitivity").cast(pa.string()), value_set=bad), False)))
    return out


def gate_decisions(table: pa.Table, gates: ReleaseGates) -> tuple[pa.Array, pa.Array]:
    """Return (drop_reason, dropped_by) per row: `gate:<name>` and the rule of the first gate it fails."""
    reason = pa.nulls(table.num_rows, pa.string())
    by = pa.nulls(table.num_rows, pa.string())
    for name, rule, fails in gate_failures(table, gates):
        new = pc.and_(fails, pc.is_null(reason))
        reason = pc.if_else(new, pa.scalar(f"gate:{name}"), reason)
        by = pc.if_else(new, pa.scalar(f"gate:{name}({rule})"), by)
    return _flat(reason), _flat(by)


def split_of(record_id: str, splits: dict[str, float], seed: str) -> str:
    """Return the split a record id falls in: a stable hash of (seed, id) against cumulative fractions."""
    u = xxhash.xxh3_64_intdigest(f"{seed}\x00{record_id}".encode("utf-8")) / 2.0**64
    acc = 0.0
    names = list(splits)
    for name in names:
        acc += splits[name]
        if u < acc:
            return name
    return names[-1]


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


# ---------------------------------------------------------------- schema helpers


def settle_schema(schema: pa.Schema) -> pa.Schema:
    """Give null-typed columns a string type and drop nullability constraints (files must agree)."""
    return pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in schema])


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    """Return the schema as a JSON list of {name, type}."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


# ---------------------------------------------------------------- writing shards


class ShardSet:
    """Writes one split's rows as zstd Parquet shards of bounded size and fixed row-group size."""

    def __init__(self, directory: Path, split: str, schema: pa.Schema, section: ReleaseSection, on_shard_done) -> None:
        self.directory = directory
        self.split = split
        self.schema = schema
        self.section = section
        self.on_shard_done = on_shard_done
        self.done: list[tuple[Path, int]] = []
        self._buf: list[pa.Table] = []
        self._buf_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._path: Path | None = None
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        """Buffer rows; write full row groups, rotating shards past the size/row limits."""
        if table.num_rows:
            self._buf.append(table)
            self._buf_rows += table.num_rows
        while self._buf_rows >= self.section.row_group_rows:
            self._write_group(self.section.row_group_rows)

    def _write_group(self, n: int) -> None:
        buf = pa.concat_tables(self._buf)
        if self._writer is not None and self._rows >= self.section.shard_max_rows:
            self._close_shard()
        if self._writer is None:
            self._open_shard()
        n = min(n, self.section.shard_max_rows - self._rows)
        self._writer.write_table(buf.slice(0, n), row_group_size=n)
        self._rows += n
        rest = buf.slice(n)
        self._buf, self._buf_rows = ([rest] if rest.num_rows else []), rest.num_rows
        if self._sink.tell() >= self.section.shard_max_bytes or self._rows >= self.section.shard_max_rows:
            self._close_shard()

    def _open_shard(self) -> None:
        self._path = self.directory / f".{self.split}-{len(self.done):05d}.parquet"
        self._sink = pa.OSFile(str(self._path), "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression=PARQUET_COMPRESSION,
                                        write_page_index=True, write_statistics=True)
        self._rows = 0

    def _close_shard(self) -> None:
        self._writer.close()
        self._sink.close()
        self.done.append((self._path, self._rows))
        self._writer = None
        self.on_shard_done(self._path)

    def close(self) -> list[tuple[Path, int]]:
        """Flush, finish the last shard and name the shards `<split>-NNNNN-of-MMMMM.parquet`."""
        while self._buf_rows:
            self._write_group(min(self._buf_rows, self.section.row_group_rows))
        if self._writer is not None:
            self._close_shard()
        n = len(self.done)  # an empty split has no file (and the card leaves it out: datasets cannot read 0-row Parquet)
        named = []
        for i, (tmp, rows) in enumerate(self.done):
            final = self.directory / f"{self.split}-{i:05d}-of-{n:05d}.parquet"
            os.rename(tmp, final)
            named.append((final, rows))
        return named


@dataclass
class ReleaseStats:
    """Running totals over released rows (for the manifest and the card)."""

    by_split: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_lang: Counter = field(default_factory=Counter)
    by_script: Counter = field(default_factory=Counter)
    lengths: list[np.ndarray] = field(default_factory=list)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_sensitivity: Counter = field(default_factory=Counter)  # None: rows no PII scan looked at

    def add(self, table: pa.Table, split: str) -> None:
        """Fold a batch of released rows into the totals."""
        self.by_split[split] += table.num_rows
        for name, counter in (("source", self.by_source), ("lang", self.by_lang), ("script", self.by_script)):
            if name in table.column_names:
                for item in pc.value_counts(table.column(name)).to_pylist():
                    counter[str(item["values"]) if item["values"] is not None else "(none)"] += item["counts"]
        self.lengths.append(pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False))
        self.by_sensitivity.update(sensitivity_counts(table))
        for col in (c for c in table.column_names if c.startswith("label_")):
            self._add_label(col, table.column(col))

    def _add_label(self, col: str, values: pa.ChunkedArray) -> None:
        s = self.labels.setdefault(col, {"non_null": 0, "values": Counter(), "sum": 0.0, "numeric": None})
        s["non_null"] += len(values) - values.null_count
        numeric = pa.types.is_floating(values.type) or pa.types.is_integer(values.type)
        s["numeric"] = numeric
        if pa.types.is_floating(values.type):
            s["sum"] += pc.sum(values).as_py() or 0.0
            return
        flat = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
        try:
            for item in pc.value_counts(flat).to_pylist():
                if item["values"] is not None:
                    s["values"][item["values"]] += item["counts"]
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            pass  # nested label payloads (e.g. span lists) are only counted

    def to_json(self) -> dict[str, Any]:
        """Return the totals as JSON (length percentiles in characters)."""
        lengths = np.concatenate(self.lengths) if self.lengths else np.array([], dtype=np.int64)
        pct = {f"p{q}": int(np.percentile(lengths, q)) for q in (5, 50, 95)} if lengths.size else {}
        return {
            "rows_by_split": dict(self.by_split),
            "rows_by_source": dict(self.by_source.most_common()),
            "rows_by_lang": dict(self.by_lang.most_common()),
            "rows_by_script": dict(self.by_script.most_common()),
            "text_chars": {"total": int(lengths.sum()), "mean": round(float(lengths.mean()), 1) if lengths.size else 0,
                           **pct, "max": int(lengths.max()) if lengths.size else 0},
        }

    def annotation_summary(self) -> dict[str, Any] | None:
        """Return per label_* column: labelled rows and the top values (or the mean of a float)."""
        if not self.labels:
            return None
        out = {}
        for col, s in sorted(self.labels.items()):
            entry: dict[str, Any] = {"labelled_rows": s["non_null"]}
            if s["values"]:
                entry["top_values"] = dict(s["values"].most_common(_TOP_VALUES))
            elif s["numeric"] and s["non_null"]:
                entry["mean"] = round(s["sum"] / s["non_null"], 4)
            out[col] = entry
        return out


def sensitivity_counts(table: pa.Table) -> Counter:
    """Return rows per `sensitivity` value (None for rows without one: never scanned for PII)."""
    if table.num_rows == 0:
        return Counter()
    if "sensitivity" not in table.column_names:
        return Counter({None: table.num_rows})
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(table.column("sensitivity")).to_pylist()})


# ---------------------------------------------------------------- staging


def resolve_run_dir(run: str, workspace: Path | None) -> Path:
    """Return the run directory for a path or a run id (looked up under `<workspace>/runs/`)."""
    p = Path(run)
    if (p / "run.json").is_file():
        return p
    if workspace is not None and (Path(workspace) / "runs" / run / "run.json").is_file():
        return Path(workspace) / "runs" / run
    where = f" or {Path(workspace) / 'runs' / run}" if workspace is not None else ""
    raise ReleaseError(f"no run record at {p / 'run.json'}{where}; pass a run directory or a run id with --workspace")


def remove_abandoned_staging(dataset_root: Path) -> list[str]:
    """Delete staging dirs of dead publishers (same host: pid gone; other hosts or no owner: a day old)."""
    removed = []
    if not dataset_root.is_dir():
        return removed
    host = socket.gethostname()
    for tmp in sorted(dataset_root.glob(".tmp-*")):
        try:
            age = time.time() - tmp.stat().st_mtime
        except FileNotFoundError:
            continue  # removed meanwhile (by us, as an owner file, or by another publisher)
        if not tmp.is_dir():
            if tmp.name.endswith(".owner") and not tmp.with_name(tmp.name[: -len(".owner")]).exists() and age > 60:
                tmp.unlink(missing_ok=True)  # killed between writing its owner record and creating its staging dir
            continue
        owner_file = tmp.with_name(tmp.name + ".owner")
        old = age > STALE_UNOWNED_SECONDS
        try:
            owner = json.loads(owner_file.read_text(encoding="utf-8"))
            # Another host's pid cannot be checked from here: its staging dir only goes once it is a day old.
            dead = not pid_alive(int(owner["pid"])) if owner.get("host") == host else old
        except (OSError, ValueError, KeyError):
            dead = old
        if dead:
            shutil.rmtree(tmp, ignore_errors=True)
            owner_file.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed


def _pause_hook_once(state: dict) -> None:
    """Sleep once after the first finished shard when the test hook env var is set."""
    if state.get("paused"):
        return
    state["paused"] = True
    seconds = float(os.environ.get(PAUSE_ENV, "0") or 0)
    if seconds > 0:
        print(f"yuliao-release-paused {os.getpid()}", flush=True)
        time.sleep(seconds)


def stage_release(run_dir: str, dataset: str | None = None, workspace: str | None = None,
                  signing_key: str | None = None) -> dict[str, Any]:
    """Write a run's release content into a hidden staging dir; return what the manifest needs."""
    rd = Path(run_dir)
    run = read_json(rd / "run.json")
    if run.get("status") != "completed":
        raise ReleaseError(f"run {run.get('run_id')} has status {run.get('status')!r}; only completed runs are published")
    recipe_text = (rd / "recipe.yaml").read_text(encoding="utf-8")
    recipe = parse_recipe(recipe_text, where=str(rd / "recipe.yaml"))
    section = recipe.release
    name = dataset or recipe.dataset
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ReleaseError(f"dataset name {name!r}: use letters, digits, '_', '.', '-' (starting with a letter or digit)")
    ws = Path(workspace) if workspace else rd.parent.parent
    key_path = Path(signing_key) if signing_key else default_signing_key_path(ws)
    key = publisher_key(key_path)  # fail before any work when the publisher cannot sign
    root = releases_root(ws) / name
    root.mkdir(parents=True, exist_ok=True)
    removed = remove_abandoned_staging(root)
    tmp = root / f".tmp-{uuid.uuid4().hex[:12]}"
    write_json_atomic(tmp.with_name(tmp.name + ".owner"),
                      {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run["run_id"],
                       "started_at": datetime.now(timezone.utc).isoformat()})
    try:
        info = _write_staging(rd, run, section, tmp, key.suite)
        sources = [{"source": i.source, "licence": i.licence, "data_class": i.data_class, "level": i.level}
                   for i in recipe.inputs]
        info["classification"] = classify_release(section.classification, info.pop("rows_by_sensitivity"),
                                                  pii_mode_of(run.get("ops", [])), sources)
        info["declared_sources"] = sources
    except ClassificationError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.with_name(tmp.name + ".owner").unlink(missing_ok=True)
        raise ReleaseError(str(exc)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.with_name(tmp.name + ".owner").unlink(missing_ok=True)
        raise
    return {**info, "staging": str(tmp), "dataset": name, "dataset_root": str(root), "run_dir": str(rd),
            "run": run, "recipe_text": recipe_text, "recipe_sha256": recipe.sha256, "recipe_name": recipe.name,
            "section": section.model_dump(mode="json"), "removed_abandoned": removed,
            "op_kinds": {op.op_id: op.kind for op in recipe.ops}, "signing_key": str(key_path)}


def publisher_key(path: Path) -> PrivateKey:
    """Load the publisher's signing key, or raise ReleaseError saying how to create one."""
    try:
        return load_private_key(path)
    except KeyFileError as exc:
        if not Path(path).exists():
            raise ReleaseError(f"no signing key at {path}: every release is signed. Create one with `yuliao keys create` "
                               f"(or pass --key / set ${SIGNING_KEY_ENV})") from None
        raise ReleaseError(str(exc)) from None


def _kept_schema(rd: Path) -> pa.Schema:
    files = sorted((rd / "kept").glob("part-*.parquet"))
    if files:
        return settle_schema(pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive"))
    dropped = sorted((rd / "dropped").glob("part-*.parquet"))
    if dropped:
        schema = pa.unify_schemas([pq.read_schema(f) for f in dropped], promote_options="permissive")
        return settle_schema(pa.schema([f for f in schema if f.name not in (DROP_REASON, DROPPED_BY, DUPLICATE_OF)]))
    from transforms.schema import DECISION_FIELDS, DOC_FIELDS

    return settle_schema(pa.schema(DOC_FIELDS + [f for f in DECISION_FIELDS if f.name not in (DROP_REASON, DROPPED_BY, DUPLICATE_OF)]))


def _write_staging(rd: Path, run: dict, section: ReleaseSection, tmp: Path, suite: str) -> dict[str, Any]:
    schema = _kept_schema(rd)
    missing = [c for c in gate_columns(section.gates) if c not in schema.names]
    if missing:
        scores = [c for c in schema.names if c.startswith(("score_", "signal_"))]
        raise ReleaseError(f"release gates read column(s) {missing} that run {run['run_id']} does not have "
                           f"(score/signal columns: {scores or 'none'}); fix release.gates in the recipe")
    (tmp / DATA_DIR).mkdir(parents=True)
    pause_state: dict = {}
    splits = section.splits or {"train": 1.0}
    shard_sets = {s: ShardSet(tmp / DATA_DIR, s, schema, section, lambda _p: _pause_hook_once(pause_state)) for s in splits}
    stats = ReleaseStats()
    gate_counts: Counter = Counter()
    gate_writer = None
    dropped_schema = pa.schema(list(schema) + [pa.field(DROP_REASON, pa.string()), pa.field(DROPPED_BY, pa.string()),
                                               pa.field(DUPLICATE_OF, pa.string())])
    for f in sorted((rd / "kept").glob("part-*.parquet")):
        for rb in pq.ParquetFile(f).iter_batches(batch_size=section.row_group_rows):
            table = conform(pa.Table.from_batches([rb]), schema, on_extra="drop")
            reason, by = gate_decisions(table, section.gates)
            passed = pc.is_null(reason)
            if passed.false_count:
                gated = table.filter(pc.invert(passed))
                for r in reason.filter(pc.invert(passed)).to_pylist():
                    gate_counts[r] += 1
                gated = conform(gated.append_column(DROP_REASON, reason.filter(pc.invert(passed)))
                                .append_column(DROPPED_BY, by.filter(pc.invert(passed))), dropped_schema, on_extra="drop")
                if gate_writer is None:
                    (tmp / DROPPED_DIR).mkdir(exist_ok=True)
                    gate_writer = pq.ParquetWriter(tmp / DROPPED_DIR / "gate-part-00000.parquet", dropped_schema,
                                                   compression=PARQUET_COMPRESSION)
                gate_writer.write_table(gated)
                table = table.filter(passed)
            if section.splits:
                names = pa.array([split_of(i, splits, section.split_seed) for i in table.column("id").to_pylist()], pa.string())
                for s in splits:
                    part = table.filter(pc.equal(names, s))
                    shard_sets[s].write(part)
                    stats.add(part, s)
            else:
                shard_sets["train"].write(table)
                stats.add(table, "train")
    if gate_writer is not None:
        gate_writer.close()
    data_files = {s: ss.close() for s, ss in shard_sets.items()}
    if not any(data_files.values()):
        raise ReleaseError(f"nothing to release: run {run['run_id']} kept {run.get('totals', {}).get('kept', 0)} rows and the "
                           f"gates removed {sum(gate_counts.values())} ({dict(gate_counts)}); loosen release.gates or check the run")
    if section.keep_history:
        ops = parse_recipe((rd / "recipe.yaml").read_text(encoding="utf-8"), where=str(rd / "recipe.yaml")).ops
        for sub, dest, prefix in (("dropped", DROPPED_DIR, "run-"), ("quarantine", QUARANTINE_DIR, "")):
            for f in sorted((rd / sub).glob("part-*.parquet")):
                (tmp / dest).mkdir(exist_ok=True)
                copy_history_part(f, tmp / dest / f"{prefix}{f.name}", sub, ops)  # redacted for runs by older code
    signature_files = keep_signatures(rd, [p for shards in data_files.values() for p, _ in shards], tmp)
    files = []
    for split, shards in data_files.items():
        for path, rows in shards:
            files.append(_file_entry(tmp, path, "data", rows, split, suite=suite))
    for path, rows in signature_files:
        files.append(_file_entry(tmp, path, "signatures", rows, suite=suite))
    rows_by_sensitivity = Counter(stats.by_sensitivity)
    for dest, role in ((DROPPED_DIR, "dropped"), (QUARANTINE_DIR, "quarantine")):
        for path in sorted((tmp / dest).glob("*.parquet")):
            files.append(_file_entry(tmp, path, role, pq.read_metadata(path).num_rows, suite=suite))
            cols = ["sensitivity"] if "sensitivity" in pq.read_schema(path).names else []
            history = pq.read_table(path, columns=cols) if cols else pa.table({"n": pa.nulls(pq.read_metadata(path).num_rows)})
            rows_by_sensitivity.update(sensitivity_counts(history))  # history is shipped too: it counts
    return {"rows_by_sensitivity": dict(rows_by_sensitivity), "schema": schema_json(schema), "files": files, "stats": stats.to_json(),
            "annotation": stats.annotation_summary(), "gate_counts": dict(gate_counts),
            "rows": sum(stats.by_split.values()), "splits": {s: stats.by_split.get(s, 0) for s in splits}}


def keep_signatures(rd: Path, data_paths: list[Path], tmp: Path) -> list[tuple[Path, int]]:
    """Store the run's near-dup signatures of the released rows, so later runs can dedup against this release."""
    from flows.dedup import save_op_spec
    from flows.plan import split_segments
    from flows.io.recipe import RecipeError, parse_recipe

    recipe_file = rd / "recipe.yaml"
    if not recipe_file.is_file():
        return []
    try:
        recipe = parse_recipe(recipe_file.read_text(encoding="utf-8"), where=str(recipe_file))
    except RecipeError:
        return []  # a recipe this code version can no longer parse: publish without signatures
    released = None
    out: list[tuple[Path, int]] = []
    for k, seg in enumerate(split_segments(recipe.ops)):
        op = seg.corpus
        if op is None or op.name != "dedup_near":
            continue
        sig_files = sorted((rd / "_stages" / f"s{k:02d}").glob("sig-*.parquet"))
        if not sig_files:
            continue
        if released is None:
            released = pa.concat_arrays([pq.read_table(p, columns=["id"]).column("id").combine_chunks() for p in data_paths])
        sigs = pa.concat_tables([pq.read_table(f) for f in sig_files], promote_options="permissive")
        sigs = sigs.filter(pc.is_in(sigs.column("id"), value_set=released))
        sig_dir = tmp / SIGNATURES_DIR / op.name
        save_op_spec(sig_dir, op)
        path = sig_dir / "part-00000.parquet"
        pq.write_table(sigs, path, compression=PARQUET_COMPRESSION)
        out += [(path, sigs.num_rows), (sig_dir / "_op.json", 0)]
    return out


SIGNATURES_DIR = "_signatures"  # = flows.curate.RELEASE_SIGNATURES_DIR


def _file_entry(tmp: Path, path: Path, role: str, rows: int, split: str | None = None, suite: str = "ed25519-sha256") -> dict[str, Any]:
    entry = {"path": path.relative_to(tmp).as_posix(), "role": role, "rows": rows,
             "bytes": path.stat().st_size, "sha256": file_sha256(path)}
    if suite == "sm2-sm3":
        entry["sm3"] = file_sm3(path)
    if split is not None:
        entry["split"] = split
    return entry


# ---------------------------------------------------------------- manifest, card, claim


def build_manifest(staged: dict[str, Any], version: int, parent: int | None, key: PublicKey,
                   audit_anchor: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the manifest of a staged release as version `version` with parent `parent`."""
    from flows.curate import git_commit

    run = staged["run"]
    section = ReleaseSection(**staged["section"])
    drops = dict(run.get("drops_by_reason", {}))
    for reason, n in staged["gate_counts"].items():
        drops[reason] = drops.get(reason, 0) + n
    dropped_by_op = {op["op"]: sum(op.get("dropped", {}).values()) for op in run.get("ops", []) if op.get("dropped")}
    per_file = run.get("per_file", [])
    sources = []
    declared = {s["source"]: s for s in staged.get("declared_sources", [])}
    for inp in run.get("inputs", []):
        files = [f for f in per_file if f["source"] == inp["source"]]
        sources.append({"source": inp["source"], "licence": inp.get("licence", "unknown"), "paths": inp.get("paths", []),
                        "data_class": declared.get(inp["source"], {}).get("data_class"),
                        "level": declared.get(inp["source"], {}).get("level"),
                        "format": inp.get("format"), "read": sum(f["read"] for f in files),
                        "kept_by_run": sum(f["kept"] for f in files),
                        "released": staged["stats"]["rows_by_source"].get(inp["source"], 0)})
    gates = []
    for name, rule in gate_rules(section.gates):
        gates.append({"gate": name, "rule": rule, "reason": f"gate:{name}",
                      "dropped": staged["gate_counts"].get(f"gate:{name}", 0)})
    return {
        "format": RELEASE_FORMAT,
        "dataset": staged["dataset"],
        "version": version,
        "name": f"{staged['dataset']}@v{version}",
        "parent": f"v{parent}" if parent else None,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "owner": section.owner or key.owner,
        "classification": staged["classification"],
        "signing": {"suite": key.suite, "key_id": key.key_id, "signer": key.owner, "signature_file": SIGNATURE},
        "audit_anchor": audit_anchor,
        "rows": staged["rows"],
        "splits": {"rows": staged["splits"], "rule": "xxh3_64(seed + '\\0' + id) against cumulative fractions" if section.splits else None,
                   "fractions": section.splits, "seed": section.split_seed},
        "schema": staged["schema"],
        "files": staged["files"],
        "run": {"run_id": run["run_id"], "run_dir": staged["run_dir"], "started_at": run.get("started_at"),
                "finished_at": run.get("finished_at"), "totals": run.get("totals", {}),
                "conservation_ok": run.get("conservation_ok")},
        "recipe": {"name": staged["recipe_name"], "sha256": staged["recipe_sha256"], "text": staged["recipe_text"]},
        "code": {"yuliao_version_run": run.get("yuliao_version"), "git_commit_run": run.get("git_commit"),
                 "yuliao_version_release": YULIAO_VERSION, "git_commit_release": git_commit()},
        "ops": [{"op": o["op"], "kind": staged.get("op_kinds", {}).get(o["op"], "?"), "params": o.get("params", {}), "rows_in": o.get("rows_in"), "rows_out": o.get("rows_out"),
                 "dropped": o.get("dropped", {})} for o in run.get("ops", [])],
        "drops_by_reason": dict(sorted(drops.items())),
        "dropped_by_op": dropped_by_op,
        "quarantine_by_error": run.get("quarantine_by_error", {}),
        "gates": gates,
        "sources": sources,
        "stats": staged["stats"],
        "annotation": staged["annotation"],
        "history": {"kept": section.keep_history, "dropped": DROPPED_DIR if any(f["role"] == "dropped" for f in staged["files"]) else None,
                    "quarantine": QUARANTINE_DIR if any(f["role"] == "quarantine" for f in staged["files"]) else None},
    }


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return label
    return "n>100M"


def _md_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_card(manifest: dict[str, Any], section: ReleaseSection) -> str:
    """Return the dataset card: YAML header (HF `configs`, licence, languages) and human-readable stats."""
    splits = [s for s, n in manifest["splits"]["rows"].items() if n > 0]
    licences = sorted({s["licence"] for s in manifest["sources"]})
    langs = [lang for lang in manifest["stats"]["rows_by_lang"] if lang != "(none)"]
    header: dict[str, Any] = {
        "pretty_name": f"{manifest['dataset']} v{manifest['version']}",
        "configs": [{"config_name": "default", "default": True,
                     "data_files": [{"split": s, "path": f"{DATA_DIR}/{s}-*.parquet"} for s in splits]}],
        "license": (section.licence.lower() if section.licence else
                    (licences[0].lower() if len(licences) == 1 else "other")),
        "size_categories": [_size_category(manifest["rows"])],
        "tags": ["yuliao"],
    }
    if langs:
        header["language"] = langs
    if not section.licence and len(licences) > 1:
        header["license_name"] = "mixed: " + ", ".join(licences)
    yml = yaml.safe_dump(header, allow_unicode=True, sort_keys=False)
    m = manifest
    parts = [f"---\n{yml}---\n", f"# {m['dataset']} v{m['version']}\n"]
    if section.description:
        parts.append(section.description.strip() + "\n")
    parts.append(
        f"Published {m['created_at']} by yuliao {YULIAO_VERSION} from run `{m['run']['run_id']}` "
        f"(recipe `{m['recipe']['name']}`, sha256 `{m['recipe']['sha256'][:16]}…`). "
        f"Parent version: {m['parent'] or 'none'}. **{m['rows']} rows.**\n")
    parts.append("## Load it\n\n```python\nfrom datasets import load_dataset\n\n"
                 f"ds = load_dataset(\"path/to/{m['dataset']}/v{m['version']}\")  # this directory\n"
                 f"print(ds)\n```\n\nVerify a copy: `yuliao pull {m['dataset']}@v{m['version']} --to DIR` "
                 "(checks the signature, the access policy and every digest), `yuliao verify DIR`, or `sha256sum -c SHA256SUMS` here.\n")
    c, sig = m["classification"], m["signing"]
    raised = "; ".join(f"{r['what']} {r['name']}" + (f" ({r['rows']} rows)" if r.get("rows") else "") + f": {r['level']}"
                       for r in c["raised_by"]) or "nothing above the lowest level"
    parts.append(f"## Classification and signature\n\nData class **{c['data_class']}**, level **{c['level']}** "
                 f"(levels, lowest first: {', '.join(c['levels'])}; declared: {c['declared'] or 'not declared, derived'}). "
                 f"Raised by: {raised}. Owner: {m.get('owner') or 'unnamed'}.\n\n"
                 f"`manifest.json` is signed ({sig['suite']}) by {sig['signer'] or 'the publisher'}, key `{sig['key_id']}`; "
                 f"the signature is in `{sig['signature_file']}` and the registration record in `registration.json`.\n")
    ch = m.get("changes_from_parent")
    if ch and "error" not in ch:
        why = "; ".join(f"{k}: {n}" for k, n in ch["removed_by_reason"].items())
        cols = ", ".join(f"{k}: {n}" for k, n in ch["changed_by_column"].items())
        parts.append(f"## Changes since {ch['from']}\n\n"
                     f"{ch['added']} added, {ch['removed']} removed{f' ({why})' if why else ''}, {ch['changed']} changed"
                     f"{f' ({cols})' if cols else ''}, {ch['unchanged']} unchanged"
                     f"{'; the recipe changed' if ch['recipe_changed'] else ''}. "
                     f"Ids: `yuliao diff {m['dataset']}@{ch['from']} {m['dataset']}@v{m['version']} --ids`.\n")
    parts.append("## Splits\n\n" + _md_table(("split", "rows", "files"), [
        (s, n, sum(1 for f in m["files"] if f.get("split") == s)) for s, n in m["splits"]["rows"].items()]) + "\n")
    if m["splits"]["fractions"]:
        parts.append(f"Splits are assigned by a hash of each record id (seed `{m['splits']['seed']}`), so a record "
                     "keeps its split across versions.\n")
    parts.append("## Sources and licences\n\n" + _md_table(("source", "licence", "read", "kept by run", "released"), [
        (s["source"], s["licence"], s["read"], s["kept_by_run"], s["released"]) for s in m["sources"]]) + "\n")
    funnel = m["run"]["totals"]
    parts.append("## What was removed, and why\n\n"
                 f"Run totals: read {funnel.get('read')}, kept {funnel.get('kept')}, dropped {funnel.get('dropped')}, "
                 f"quarantined {funnel.get('quarantined')}.\n\n"
                 + (_md_table(("drop reason", "rows"), sorted(m["drops_by_reason"].items())) if m["drops_by_reason"] else "No rows dropped.")
                 + "\n\n" + (_md_table(("quarantine error", "rows"), sorted(m["quarantine_by_error"].items()))
                             if m["quarantine_by_error"] else "Nothing quarantined.") + "\n\n"
                 "Dropped and quarantined rows are kept in `_dropped/` and `_quarantine/` (not loaded as data); "
                 "ask `yuliao lineage DATASET@VERSION ID` why a record is not here.\n")
    if m["gates"]:
        parts.append("## Quality gates\n\n" + _md_table(("gate", "rule", "dropped"), [
            (g["gate"], f"`{g['rule']}`", g["dropped"]) for g in m["gates"]]) + "\n")
    parts.append("## Operators\n\n" + _md_table(("op", "params", "rows in", "rows out"), [
        (o["op"], f"`{json.dumps(o['params'], ensure_ascii=False)}`", o["rows_in"], o["rows_out"]) for o in m["ops"]]) + "\n")
    st = m["stats"]
    chars = st["text_chars"]
    parts.append("## Statistics\n\n"
                 f"Text length (characters): mean {chars.get('mean')}, p5 {chars.get('p5', '-')}, median {chars.get('p50', '-')}, "
                 f"p95 {chars.get('p95', '-')}, max {chars.get('max')}; total {chars.get('total')}.\n\n"
                 + _md_table(("lang", "rows"), list(st["rows_by_lang"].items())[:15]) + "\n\n"
                 + _md_table(("script", "rows"), list(st["rows_by_script"].items())[:15]) + "\n")
    if m["annotation"]:
        parts.append("## Annotations\n\n" + _md_table(("column", "labelled rows", "summary"), [
            (c, a["labelled_rows"], json.dumps(a.get("top_values", a.get("mean", "")), ensure_ascii=False))
            for c, a in m["annotation"].items()]) + "\n")
    parts.append("## Files\n\n" + _md_table(("file", "rows", "bytes", "sha256"), [
        (f"`{f['path']}`", f["rows"], f["bytes"], f"`{f['sha256']}`") for f in m["files"] if f["role"] == "data"]) + "\n")
    return "\n".join(parts)


def _write_release_text(tmp: Path, manifest: dict[str, Any], section: ReleaseSection, key: PrivateKey) -> None:
    """Write README.md, manifest.json (listing the card's hash), its signature, the registration record and SHA256SUMS."""
    card = render_card(manifest, section)
    (tmp / CARD).write_text(card, encoding="utf-8")
    files = [f for f in manifest["files"] if f["role"] != "card"]
    files.append(_file_entry(tmp, tmp / CARD, "card", 0, suite=key.suite))
    manifest = {**manifest, "files": files}
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    (tmp / MANIFEST).write_bytes(manifest_bytes)
    signature = signature_record(key, manifest_bytes, MANIFEST)
    (tmp / SIGNATURE).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    (tmp / REGISTRATION).write_text(json.dumps(registration_record(manifest, signature), ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
    sums = [f"{f['sha256']}  {f['path']}" for f in files] + [f"{file_sha256(tmp / n)}  {n}" for n in (MANIFEST, SIGNATURE, REGISTRATION)]
    (tmp / CHECKSUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
    for p in (tmp / CARD, tmp / MANIFEST, tmp / SIGNATURE, tmp / REGISTRATION, tmp / CHECKSUMS):
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())


def registration_record(manifest: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    """Return the machine-readable registration of a release, ready to hand to a data registry."""
    data = [f for f in manifest["files"] if f["role"] == "data"]
    digest_keys = ("sha256", "sm3")
    return {
        "format": "yuliao-registration/1",
        "identifier": f"urn:yuliao:{manifest['dataset']}:v{manifest['version']}:sha256:{signature['digests']['sha256']}",
        "name": manifest["name"], "dataset": manifest["dataset"], "version": manifest["version"],
        "title": manifest["dataset"], "description": manifest.get("description", ""),
        "owner": manifest.get("owner"), "publisher": {"signer": signature["signer"], "key_id": signature["key_id"]},
        "created_at": manifest["created_at"], "parent": manifest.get("parent"),
        "classification": {k: manifest["classification"][k] for k in ("data_class", "level", "levels")},
        "sources": [{k: s.get(k) for k in ("source", "licence", "data_class", "level", "released")} for s in manifest["sources"]],
        "languages": manifest.get("stats", {}).get("rows_by_lang", {}),
        "rows": manifest["rows"], "bytes": sum(f["bytes"] for f in data),
        "digests": {"manifest": signature["digests"],
                    "files": [{"path": f["path"], **{k: f[k] for k in digest_keys if k in f}} for f in data]},
        "signature": {"suite": signature["suite"], "key_id": signature["key_id"], "value": signature["signature"],
                      "signed_file": signature["signed_file"]},
        "provenance": {"run_id": manifest["run"]["run_id"], "recipe_sha256": manifest["recipe"]["sha256"],
                       "code": manifest["code"]},
    }


def changes_from_parent(ws: Path, dataset: str, parent: int, staging: Path, version: int) -> dict[str, Any] | None:
    """Return the diff summary parent -> this release (counts and reasons; ids via `yuliao diff --ids`)."""
    from flows.io.release_store import ReleaseRef, diff_releases

    try:
        d = diff_releases(ReleaseRef(dataset, parent, releases_root(ws) / dataset / f"v{parent}"),
                          ReleaseRef(dataset, version, staging))
    except ReleaseError as exc:  # a damaged parent must not block a publish; say so instead
        return {"error": str(exc)}
    keep = ("added", "removed", "changed", "unchanged", "removed_by_reason", "added_by_reason", "changed_by_column",
            "columns_added", "columns_removed", "recipe_changed")
    return {"from": f"v{parent}", **{k: d[k] for k in keep}}


def claim_version(staged: dict[str, Any], max_attempts: int = 1000) -> dict[str, Any]:
    """Rename the staging dir to the next free `v<N>`; on a lost race, re-number and retry."""
    tmp = Path(staged["staging"])
    root = Path(staged["dataset_root"])
    ws = root.parent.parent
    section = ReleaseSection(**staged["section"])
    key = publisher_key(Path(staged["signing_key"]))
    for attempt in range(max_attempts):
        versions = list_versions(ws, staged["dataset"])
        taken = {int(p.name[1:]) for p in root.glob("v*") if p.name[1:].isdigit()}
        version = max([0, *versions, *taken]) + 1
        parent = versions[-1] if versions else None
        manifest = build_manifest(staged, version, parent, key.public_key(), audit_head(ws))
        if parent is not None:
            _write_release_text(tmp, manifest, section, key)  # the diff reads the staged manifest's file list
            manifest["changes_from_parent"] = changes_from_parent(ws, staged["dataset"], parent, tmp, version)
        _write_release_text(tmp, manifest, section, key)
        _fsync_dir(tmp)
        target = root / f"v{version}"
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if is_name_taken(exc):
                continue  # another publisher took v<N> first: renumber against what is there now
            raise
        _fsync_dir(root)
        tmp.with_name(tmp.name + ".owner").unlink(missing_ok=True)
        level = manifest["classification"]["level"]
        append_event(ws, "publish", actor=current_actor(None), ref=manifest["name"], level=level,
                     digest=file_sha256(target / MANIFEST), detail=f"signed by {key.key_id} ({key.suite})")
        return {"path": str(target), "version": version, "parent": manifest["parent"], "rows": manifest["rows"],
                "name": manifest["name"], "attempts": attempt + 1, "level": level, "key_id": key.key_id,
                "suite": key.suite}
    raise ReleaseError(f"could not claim a version of {staged['dataset']} after {max_attempts} attempts")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def already_published(workspace: Path, dataset: str, run_id: str) -> list[int]:
    """Return the versions of `dataset` that were published from run `run_id`."""
    from flows.io.release_store import read_manifest

    out = []
    for v in list_versions(workspace, dataset):
        try:
            if read_manifest(releases_root(workspace) / dataset / f"v{v}")["run"]["run_id"] == run_id:
                out.append(v)
        except (ReleaseError, KeyError):
            continue
    return out


# ---------------------------------------------------------------- the flow


@task(name="release-stage")
def stage_task(run_dir: str, dataset: str | None, workspace: str | None, signing_key: str | None) -> dict[str, Any]:
    """Gate, split and shard the run's kept rows and copy its history into a staging dir."""
    return stage_release(run_dir, dataset, workspace, signing_key)


@task(name="release-claim")
def claim_task(staged: dict[str, Any]) -> dict[str, Any]:
    """Write manifest and card, then rename the staging dir into the next version."""
    try:
        return claim_version(staged)
    except BaseException:
        shutil.rmtree(staged["staging"], ignore_errors=True)
        Path(staged["staging"] + ".owner").unlink(missing_ok=True)
        raise


@task(name="release-catalog")
def catalog_task(workspace: str) -> str | None:
    """Refresh the DuckDB catalog (best effort: the files are the truth, the catalog can be rebuilt)."""
    from flows.io.catalog import rebuild_catalog

    try:
        return str(rebuild_catalog(Path(workspace)))
    except Exception as exc:  # noqa: BLE001 - a catalog failure never fails a publish
        get_run_logger().warning("catalog refresh failed (run `yuliao catalog rebuild`): %s", exc)
        return None


@flow(name="release", log_prints=False)
def release_flow(run: str, dataset: str | None = None, workspace: str | None = None,
                 refresh_catalog: bool = True, signing_key: str | None = None) -> dict[str, Any]:
    """Publish a completed run (directory or id) as the next signed version of its dataset; return where it went."""
    rd = resolve_run_dir(run, Path(workspace) if workspace else None)
    staged = stage_task(str(rd), dataset, workspace, signing_key)
    result = claim_task(staged)
    ws = str(Path(staged["dataset_root"]).parent.parent)
    result["catalog"] = catalog_task(ws) if refresh_catalog else None
    result["removed_abandoned"] = staged["removed_abandoned"]
    result["run_id"] = staged["run"]["run_id"]
    result["gates"] = staged["gate_counts"]
    get_run_logger().info("published %s at %s (%s rows)", result["name"], result["path"], result["rows"])
    return result
