"""`yuliao langid`: show what identify_language decides for some texts (lang, script, confidence, mix)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

EXIT_BAD_INPUT = 2


def langid_cmd(
    texts: Optional[list[str]] = typer.Argument(None, help="texts to identify (or use --file)"),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="a UTF-8 file with one text per line ('-' = stdin)"),
    detector: str = typer.Option("langdetect_nb", "--detector", help="langdetect_nb, langdetect or fasttext_lite"),
    cantonese: str = typer.Option("model", "--cantonese", help="model (marker words + n-gram model), markers or cantonesedetect"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per line instead of a table"),
) -> None:
    """Identify language and script exactly as the identify_language op would (zh-Hans / zh-Hant / yue ...)."""
    from transforms.langid import IdentifyLanguage, identify_texts

    lines = list(texts or [])
    if file is not None:
        if str(file) == "-":
            lines += [x.rstrip("\n") for x in sys.stdin]
        elif not file.is_file():
            typer.echo(f"no such file: {file}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        else:
            lines += file.read_text(encoding="utf-8").splitlines()
    if not lines:
        typer.echo("give texts as arguments or with --file", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        op = IdentifyLanguage(detector=detector, cantonese=cantonese)
    except ValueError as exc:
        typer.echo(f"bad option: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    guesses = identify_texts(lines, op.config())
    if as_json:
        for text, g in zip(lines, guesses):
            typer.echo(json.dumps({"text": text, "lang": g.lang, "script": g.script, "lang_conf": g.conf, "lang_mix": g.mix},
                                  ensure_ascii=False))
        return
    table = Table("lang", "script", "conf", "mix", "text")
    for text, g in zip(lines, guesses):
        mix = " ".join(f"{k}:{v:.2f}" for k, v in g.mix.items()) if len(g.mix) > 1 else ""
        table.add_row(g.lang, g.script, f"{g.conf:.2f}", mix, text if len(text) <= 60 else text[:59] + "…")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``langid`` command to the yuliao CLI."""
    app.command("langid")(langid_cmd)
