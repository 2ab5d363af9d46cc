"""The layering contracts (pyproject.toml): pure transforms/quality, and flows/ wings that import only downward."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a dev dependency; run scripts/setup.sh"
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 6 kept, 0 broken" in out.stdout


def test_pure_packages_do_not_start_prefect_when_imported():
    code = ("import sys, transforms.registry as r; r.discover_ops(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'duckdb', 'label_studio_sdk', 'flows')]; "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"imported by transforms/quality: {out.stdout} {out.stderr[-2000:]}"
