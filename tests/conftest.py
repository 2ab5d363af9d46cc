"""Session-wide fixtures: the ../shared corpora, an isolated Prefect API, quiet offline settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared"))

# Offline and quiet for every test process (and the subprocesses they start).
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".yuliao" / "prefect-test"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")  # a loaded 2-core CI machine
# A resident Prefect API started by a CLI subprocess without PREFECT_API_URL stops soon after the tests.
os.environ.setdefault("YULIAO_SERVER_IDLE_SECONDS", "60")
# Test CLI subprocesses run in-process even under `pytest -s` at a terminal (where the resident worker
# would be on by default); tests of the worker ask for it with YULIAO_WORKER=resident.
os.environ["YULIAO_WORKER"] = "off"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", str(ROOT / ".yuliao" / "hf"))


def _session_signing_key() -> None:
    """Give every test process one publisher key (releases are always signed) and trust it."""
    if os.environ.get("YULIAO_SIGNING_KEY"):
        return
    import tempfile

    from flows.io.signing import new_private_key, write_key_pair

    priv, pub = write_key_pair(new_private_key("ed25519", "yuliao-tests"), Path(tempfile.mkdtemp(prefix="yuliao-test-keys-")), "publisher")
    os.environ["YULIAO_SIGNING_KEY"] = str(priv)
    os.environ["YULIAO_TRUSTED_KEYS"] = str(pub)


_session_signing_key()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Return ../shared, or skip the test with a clear message when it is absent."""
    if not (SHARED / "corpora").is_dir():
        pytest.skip(f"../shared corpora not found at {SHARED} (set YULIAO_SHARED to run these tests)")
    return SHARED


@pytest.fixture(scope="session")
def corpora(shared_dir: Path) -> Path:
    """Return ../shared/corpora."""
    return shared_dir / "corpora"


@pytest.fixture(scope="session")
def prefect_api():
    """Run the test session's flows against one temporary Prefect API (started once)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):  # 90 s timed out at load 12
        yield
