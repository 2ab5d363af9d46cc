"""Recipes: YAML files under configs/recipes/, validated with pydantic before any work starts."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from transforms.ops import BoundedNumbers, Operator
from transforms.registry import get_op_class, known_op_names


class RecipeError(ValueError):
    """A recipe that cannot be used: the message names the file, the place and the known choices."""


class _Strict(BoundedNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One raw input: where it is, what it is called, how to read it."""

    source: str = Field(..., min_length=1, description="raw corpus name, recorded in every record")
    paths: list[str] = Field(..., min_length=1, description="files, directories or globs")
    format: str = Field("auto", description="reader name; 'auto' picks one by file extension")
    licence: str = Field("unknown", description="licence of the raw corpus (SPDX id or text)")
    data_class: str | None = Field(None, description="declared data class of the raw corpus (free text, e.g. 'public web text')")
    level: str | None = Field(None, description="declared classification level of the raw corpus; releases are never below it")
    text_field: str = Field("text", description="field holding the document text")
    id_field: str | None = Field(None, description="field holding the record's own id (kept in meta)")
    meta_fields: list[str] | None = Field(None, description="fields kept in meta; None keeps all others")
    encoding: str = Field("auto", description="'auto' detects per file; or a codec name such as gb18030")
    on_decode_error: Literal["quarantine", "replace"] = Field(
        "quarantine", description="undecodable bytes: quarantine the record, or decode with U+FFFD and flag it in meta")
    mojibake: Literal["repair", "flag", "off"] = Field(
        "repair", description="text decoded with the wrong codec upstream: repair when reversible and certain, only flag, or skip")
    max_record_bytes: int = Field(50_000_000, gt=0, description="records larger than this are quarantined")
    options: dict[str, Any] = Field(default_factory=dict, description="per-format options, checked by the reader")
    follow_symlinks: bool = Field(
        False, description="read symbolic links that lead out of the input's paths; by default they are quarantined (symlink_outside_input)")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            import codecs

            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}; use 'auto' or a Python codec name such as gb18030, big5hkscs, utf-16, shift_jis") from None
        return value


class ReleaseGates(_Strict):
    """Quality gates applied when a run is published; a row failing one is dropped as `gate:<name>`."""

    min_score: dict[str, float] = Field(default_factory=dict, description="score_* column -> minimum; a null score fails")
    max_score: dict[str, float] = Field(default_factory=dict, description="score_*/signal_* column -> maximum; a null fails")
    languages: list[str] | None = Field(None, description="allowed `lang` values; None allows any")
    scripts: list[str] | None = Field(None, description="allowed `script` values; None allows any")
    min_lang_conf: float | None = Field(None, ge=0, le=1, description="minimum `lang_conf`; a null fails")
    exclude_sensitivity: list[str] = Field(default_factory=list, description="`sensitivity` values to keep out")


DEFAULT_LEVELS = ("public", "internal", "sensitive", "core")


class Classification(_Strict):
    """How a release's data class and level are derived: level order, row / licence mappings, declared level."""

    data_class: str = Field("text-corpus", min_length=1, description="data class named in the manifest, card and registration")
    levels: list[str] = Field(default_factory=lambda: list(DEFAULT_LEVELS), min_length=2,
                              description="classification levels, lowest first")
    level: str | None = Field(None, description="level the publisher declares; the publish is refused when the rows need a higher one")
    row_levels: dict[str, str] = Field(
        default_factory=lambda: {"none": "public", "low": "internal", "medium": "internal", "high": "sensitive"},
        description="row `sensitivity` (PII found and redacted) -> level")
    unredacted_row_levels: dict[str, str] = Field(
        default_factory=lambda: {"none": "public", "low": "sensitive", "medium": "core", "high": "core"},
        description="row `sensitivity` when the recipe only detected PII (redact_pii mode: detect) -> level")
    unscanned_level: str = Field("internal", description="level of rows no PII scan looked at (no `sensitivity`)")
    licence_levels: dict[str, str] = Field(default_factory=lambda: {"unknown": "internal"},
                                           description="source licence (exact, case-insensitive) -> minimum level")

    @model_validator(mode="after")
    def _levels_known(self) -> "Classification":
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"classification.levels has duplicates: {self.levels}")
        named = [self.level, self.unscanned_level, *self.row_levels.values(), *self.unredacted_row_levels.values(),
                 *self.licence_levels.values()]
        unknown = sorted({v for v in named if v is not None and v not in self.levels})
        if unknown:
            raise ValueError(f"classification names level(s) {unknown} not in levels {self.levels}")
        return self


class ReleaseSection(_Strict):
    """How runs of this recipe are published: dataset name, gates, splits, shard sizes, card text."""

    dataset: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                                description="dataset name for releases; defaults to the recipe name")
    gates: ReleaseGates = Field(default_factory=ReleaseGates)
    splits: dict[str, float] | None = Field(None, description="split name -> fraction (sum 1), assigned by id hash")
    split_seed: str = Field("", description="salt for the id hash; change it to draw different splits")
    shard_max_bytes: int = Field(256 * 1024 * 1024, gt=0, description="start a new Parquet shard past this size")
    shard_max_rows: int = Field(1_000_000, gt=0, description="start a new Parquet shard past this many rows")
    row_group_rows: int = Field(10_000, gt=0, description="rows per Parquet row group (streaming read unit)")
    keep_history: bool = Field(True, description="keep the run's dropped and quarantined rows beside the release")
    licence: str | None = Field(None, description="dataset licence for the card; default: the inputs' licences")
    description: str = Field("", description="free text for the dataset card")
    owner: str | None = Field(None, description="data owner for the registration record; default: the signing key's owner")
    classification: Classification = Field(default_factory=Classification)

    @field_validator("splits")
    @classmethod
    def _splits_sum_to_one(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        bad = [k for k in v if not re.fullmatch(r"\w+(\.\w+)*", k)]
        if bad:
            raise ValueError(f"split names must be word characters (e.g. train, validation, test), got {bad}")
        if any(f <= 0 for f in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be > 0 and sum to 1, got {v}")
        return v


class RunSection(_Strict):
    """Execution knobs for `yuliao run`."""

    batch_rows: int = Field(20_000, gt=0, description="records per in-memory batch inside a shard")
    batch_chars: int = Field(4_000_000, gt=0, description="characters of document text per in-memory batch: a batch "
                             "ends at batch_rows or here, whichever comes first, so memory is bounded for long documents")
    runner: Literal["thread", "process", "dask"] = "thread"
    workers: int = Field(2, gt=0)
    dask_address: str | None = Field(None, description="scheduler address for runner=dask; None starts a local cluster")


class OpSpec(_Strict):
    """One validated step: the operator instance plus where it came from in the YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    index: int
    op: Operator


class Recipe(_Strict):
    """A validated recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    workspace: str = Field(".yuliao/workspace", description="where runs, releases and the catalog live")
    inputs: list[InputSpec] = Field(..., min_length=1)
    ops: list[Operator] = Field(default_factory=list)
    run: RunSection = Field(default_factory=RunSection)
    release: ReleaseSection = Field(default_factory=ReleaseSection)
    annotation: dict[str, Any] = Field(default_factory=dict, description="annotation loop settings (annotation issue)")
    source_text: str = Field("", exclude=True)
    source_path: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _input_levels_known(self) -> "Recipe":
        levels = self.release.classification.levels
        for inp in self.inputs:
            if inp.level is not None and inp.level not in levels:
                raise ValueError(f"input {inp.source!r}: level {inp.level!r} is not one of release.classification.levels {levels}")
        return self

    @property
    def sha256(self) -> str:
        """Hash of the recipe text as written (recorded in run records and manifests)."""
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()

    @property
    def dataset(self) -> str:
        """Dataset name releases of this recipe are published under."""
        return self.release.dataset or self.name


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """Return the 1-based YAML line of the value at `path` (keys/indices), if it can be found."""
    for key in path:
        if node is None:
            return None
        if isinstance(node, yaml.MappingNode):
            found = None
            for k, v in node.value:
                if k.value == key:
                    found = (k, v)
                    break
            if found is None:
                return node.start_mark.line + 1
            node = found[1] if key != path[-1] else found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node.start_mark.line + 1
    return node.start_mark.line + 1 if node is not None else None


def _build_op(raw: Any, index: int, where: str, root: yaml.Node | None) -> Operator:
    loc = f"ops[{index}]"
    line = _line_of(root, ("ops", index))
    at = f"{where}:{line}" if line else where
    if not isinstance(raw, dict) or "op" not in raw:
        raise RecipeError(f"{at}: {loc} must be a mapping with an 'op' key, e.g. '- op: drop_short_docs'")
    name = raw["op"]
    params = {k: v for k, v in raw.items() if k != "op"}
    ops = known_op_names()
    try:
        cls = get_op_class(str(name))
    except KeyError:
        cls = None
    if cls is None:
        import difflib

        close = difflib.get_close_matches(str(name), ops, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise RecipeError(f"{at}: {loc}: unknown op {name!r}.{hint} Known ops: {', '.join(ops)}")
    try:
        return cls(**params)
    except ValidationError as exc:
        known = ", ".join(cls.model_fields) or "(none)"
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            kline = _line_of(root, ("ops", index, err["loc"][0])) if err["loc"] else line
            kat = f"{where}:{kline}" if kline else at
            if err["type"] == "extra_forbidden":
                import difflib

                close = difflib.get_close_matches(str(err["loc"][0]), list(cls.model_fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                lines.append(f"{kat}: {loc} ({name}): unknown parameter {key!r}{hint}. Known parameters: {known}")
            else:
                lines.append(f"{kat}: {loc} ({name}).{key}: {err['msg']}. Known parameters: {known}")
        raise RecipeError("\n".join(lines)) from None


def parse_recipe(text: str, where: str = "<recipe>") -> Recipe:
    """Parse and validate recipe YAML text; raise RecipeError naming the place of the first problem."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe must be a YAML mapping with at least 'name' and 'inputs'")
    raw_ops = data.get("ops") or []
    if not isinstance(raw_ops, list):
        raise RecipeError(f"{where}: 'ops' must be a list of '- op: NAME' entries")
    ops = [_build_op(raw, i, where, root) for i, raw in enumerate(raw_ops)]
    fields = {k: v for k, v in data.items() if k != "ops"}
    try:
        return Recipe(**fields, ops=ops, source_text=text, source_path=where)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = tuple(err["loc"])
            line = _line_of(root, path)
            at = f"{where}:{line}" if line else where
            dotted = ".".join(str(p) for p in path)
            if err["type"] == "extra_forbidden":
                parent = _model_at(Recipe, path[:-1])
                known = ", ".join(k for k in parent.model_fields if k not in ("source_text", "source_path")) if parent else "?"
                lines.append(f"{at}: unknown key {dotted!r}. Known keys here: {known}")
            else:
                lines.append(f"{at}: {dotted}: {err['msg']}")
        raise RecipeError("\n".join(lines)) from None


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """Return the pydantic model class found at `path` inside `model` (for 'known keys' hints)."""
    import typing

    for key in path:
        if isinstance(key, int):
            continue
        field = model.model_fields.get(str(key))
        if field is None:
            return None
        ann = field.annotation
        for cand in (ann, *typing.get_args(ann)):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
                break
        else:
            return None
    return model


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file."""
    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"{p}: recipe file not found")
    return parse_recipe(p.read_text(encoding="utf-8"), where=str(p))
