"""A real Label Studio for the test session, started and stopped through scripts/label_studio.sh."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "label_studio.sh"
LS_VENV = Path(os.environ.get("YULIAO_LS_VENV", ROOT / ".ls-venv"))


@dataclass
class LabelStudioServer:
    """A running test server: where it is, how to reach it, and how to kill/restart it."""

    url: str
    token: str
    port: int
    data_dir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "YULIAO_LS_VENV": str(LS_VENV), "YULIAO_LS_DATA_DIR": str(self.data_dir),
                "YULIAO_LS_PORT": str(self.port), "YULIAO_LS_TOKEN": self.token,
                # the first start migrates a fresh database: 290 s at load 15 on 2 cores (240 s was not enough)
                "YULIAO_LS_START_TIMEOUT": os.environ.get("YULIAO_LS_START_TIMEOUT", "600")}

    def script(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), command], env=self.env(), capture_output=True, text=True, timeout=660)

    def pid(self) -> int:
        return int((self.data_dir / "label-studio.pid").read_text().strip())

    def kill_hard(self) -> None:
        """SIGKILL the server (a crash, not a shutdown) and wait until it is gone."""
        import signal
        import time

        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        for _ in range(100):  # the port must be free before a restart
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def start(self) -> None:
        out = self.script("start")
        assert out.returncode == 0, f"label_studio.sh start failed:\n{out.stdout}\n{out.stderr}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    """Start a fresh Label Studio (own SQLite data dir, own port) for the session; stop it at the end."""
    if not (LS_VENV / "bin" / "label-studio").exists():
        pytest.skip(f"Label Studio is not installed in {LS_VENV}: run 'bash scripts/label_studio.sh install' to run these tests")
    # For quick local iterations YULIAO_LS_TEST_DATA_DIR keeps one server's data (and its migrated
    # database) between sessions, and YULIAO_LS_TEST_KEEP=1 leaves it running; CI uses neither.
    keep_dir = os.environ.get("YULIAO_LS_TEST_DATA_DIR")
    data_dir = Path(keep_dir) if keep_dir else tmp_path_factory.mktemp("label-studio")
    data_dir.mkdir(parents=True, exist_ok=True)
    token_file, port_file = data_dir / "test-token", data_dir / "test-port"
    if keep_dir and token_file.exists():
        token, port = token_file.read_text().strip(), int(port_file.read_text())
    else:
        token, port = os.urandom(20).hex(), free_port()
        token_file.write_text(token)
        port_file.write_text(str(port))
    server = LabelStudioServer(url=f"http://127.0.0.1:{port}", token=token, port=port, data_dir=data_dir)
    server.start()
    try:
        yield server
    finally:
        if os.environ.get("YULIAO_LS_TEST_KEEP") != "1":
            out = server.script("stop")
            if out.returncode != 0:
                print(out.stdout, out.stderr)
            if not keep_dir:
                shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A short random tag that keeps project titles unique when a kept server is reused."""
    return os.urandom(3).hex()
