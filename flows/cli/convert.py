"""CLI: ``yuliao inspect PATH...`` — dry-run the readers on raw files before writing a recipe.

Shows, per file, the reader chosen, records read, documents, quarantined entries by error, the
encodings used, and a few examples. Nothing is written. Exit codes: 0 every record became a
document; 1 some were quarantined; 2 bad input (no such file, unknown format or option).
A JSON summary goes to stdout with --json; the table goes to stderr.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

EXIT_QUARANTINED = 1
EXIT_BAD_INPUT = 2
err = Console(stderr=True)


def inspect_cmd(
    paths: list[str] = typer.Argument(..., help="files, directories or globs, as in a recipe input's paths"),
    format: str = typer.Option("auto", "--format", help="reader name (default: by extension)"),
    encoding: str = typer.Option("auto", "--encoding", help="codec override, e.g. gb18030, big5hkscs"),
    text_field: str = typer.Option("text", "--text-field", help="field holding the text (JSON, CSV, Parquet)"),
    option: Optional[list[str]] = typer.Option(None, "--option", "-o", help="reader option KEY=VALUE (YAML value), repeatable"),
    examples: int = typer.Option(2, "--examples", help="quarantined examples to show per file"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON summary to stdout"),
) -> None:
    """Read raw files with yuliao's readers and report what would become documents and what would be quarantined."""
    import yaml

    from flows.io.readers import list_input_files, read_input_file
    from flows.io.recipe import InputSpec, RecipeError

    try:
        opts = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in option or [])}
        spec = InputSpec(source="inspect", paths=list(paths), format=format, encoding=encoding, text_field=text_field, options=opts)
        files = list_input_files(spec)
    except (RecipeError, ValueError) as exc:
        err.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    summary = []
    table = Table("file", "reader", "read", "docs", "quarantined", "encodings", title="yuliao inspect")
    for f in files:
        docs = read = 0
        errors: Counter = Counter()
        encodings: Counter = Counter()
        shown: list[dict] = []
        try:
            from flows.io.readers import reader_for

            reader = reader_for(spec, f).name
            for batch in read_input_file(spec, f, 5000):
                read += batch.n_read
                docs += batch.docs.num_rows
                for m in batch.docs.column("meta").to_pylist():
                    encodings[json.loads(m).get("_encoding", "utf-8") if m else "utf-8"] += 1
                for q in batch.quarantine.to_pylist():
                    errors[q["error"]] += 1
                    if len(shown) < examples:
                        shown.append({k: q[k] for k in ("source_uri", "error", "detail")})
        except RecipeError as exc:
            err.print(f"[red]error[/red]: {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        q_total = sum(errors.values())
        table.add_row(f, reader, str(read), str(docs), ", ".join(f"{k}={v}" for k, v in errors.most_common()) or "0",
                      ", ".join(f"{k}={v}" for k, v in encodings.most_common()))
        summary.append({"path": f, "reader": reader, "read": read, "docs": docs, "quarantined": q_total,
                        "errors": dict(errors), "encodings": dict(encodings), "examples": shown})
    err.print(table)
    for s in summary:
        for ex in s["examples"]:
            err.print(f"  [yellow]{ex['error']}[/yellow] {ex['source_uri']}: {ex['detail']}")
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    if any(s["quarantined"] for s in summary):
        raise typer.Exit(EXIT_QUARANTINED)


def register(app: typer.Typer) -> None:
    """Add `yuliao inspect` to the CLI."""
    app.command("inspect")(inspect_cmd)


