"""CLI: ``yuliao dedup near`` — staged near-dup dedup of Parquet shards, optionally against a release's signatures.

Exit codes: 0 ok; 2 bad input (no shards, incompatible stored signatures, bad parameters).
Answers (a JSON summary) go to stdout; notes go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.cli.exit_codes import ExitCode

err = Console(stderr=True)


def near_cmd(
    shards: list[Path] = typer.Argument(..., help="Parquet document shards (columns id, text; decision columns optional)"),
    work: Path = typer.Option(..., "--work", help="output dir: signatures/, decisions.parquet, out/part-*.parquet"),
    threshold: float = typer.Option(0.7, help="Jaccard of a near-duplicate pair"),
    script: str = typer.Option("fold", help="script folding before shingling: fold (default, as the dedup_near op: Simplified/Traditional and regional vocabulary), none, t2s, tw2s, tw2sp, hk2s"),
    char_ngram: int = typer.Option(5, help="shingle size in characters for CJK documents"),
    word_ngram: int = typer.Option(5, help="shingle size in words for other documents"),
    verify: str = typer.Option("borderline", help="none, signature, borderline (the dedup_near op's default) or exact"),
    keep: str = typer.Option("first", help="first, longest or quality"),
    existing: Optional[Path] = typer.Option(None, "--existing", help="signature dir of an earlier run/release to dedup against (incremental)"),
    dask_workers: int = typer.Option(0, "--dask-workers", help="run map/apply on a local Dask cluster with this many workers (0 = in process)"),
) -> None:
    """Deduplicate near-duplicates across Parquet shards (map -> DuckDB buckets -> components -> apply)."""
    from pydantic import ValidationError

    from flows.dedup import check_op_spec, dedup_files
    from transforms.dedup import DedupNear

    if not shards:
        err.print("[red]error[/red]: no shards given")
        raise typer.Exit(ExitCode.BAD_INPUT)
    missing = [str(s) for s in shards if not s.exists()]
    if missing:
        err.print(f"[red]error[/red]: shard(s) not found: {', '.join(missing)}")
        raise typer.Exit(ExitCode.BAD_INPUT)
    try:
        op = DedupNear(threshold=threshold, script=script, char_ngram=char_ngram, word_ngram=word_ngram, verify=verify, keep=keep)
    except ValidationError as exc:
        err.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    stored: list[str] = []
    if existing is not None:
        try:
            check_op_spec(existing, op)
        except ValueError as exc:
            err.print(f"[red]error[/red]: {exc}")
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        stored = sorted(str(p) for p in Path(existing).glob("part-*.parquet"))
        err.print(f"deduplicating against {len(stored)} stored signature file(s) in {existing}")
    if dask_workers > 0:
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=dask_workers, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
            result = dedup_files(op, [str(s) for s in shards], work, existing=stored,
                                 map_fn=lambda fn, *its: client.gather(client.map(fn, *its, pure=False)))
    else:
        result = dedup_files(op, [str(s) for s in shards], work, existing=stored)
    err.print(f"decisions: {result['decisions']}; annotated shards: {Path(work) / 'out'}; signatures: {Path(work) / 'signatures'}")
    typer.echo(json.dumps({"decisions": result["decisions"], "clusters": result["clusters"], "counts": result["counts"],
                           "outputs": result["outputs"]}, ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``dedup`` command group to the yuliao CLI."""
    group = typer.Typer(help="deduplication over Parquet shards (staged, incremental, Dask)", no_args_is_help=True)
    group.command("near")(near_cmd)
    app.add_typer(group, name="dedup")
