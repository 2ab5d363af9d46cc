"""Load a page in headless Chromium (Debian's `chromium`) over the DevTools protocol and report what happened.

Collects uncaught exceptions, console errors, log errors and every network request that is not a
`file:` or `data:` URL, then evaluates a probe expression in the loaded page. Test helper only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                  "--remote-debugging-port=0"]


def chromium_binary() -> str | None:
    """Return the Chromium executable, if installed (`apt-get install -y chromium`)."""
    return os.environ.get("YULIAO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    """What a page did while loading."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    probe: object = None


def load_page(url: str, probe_js: str, timeout: float = 60.0) -> PageLoad:
    """Open `url` in a fresh headless Chromium, wait for the load event, evaluate `probe_js`; return errors and the probe."""
    import httpx
    from websockets.sync.client import connect

    binary = chromium_binary()
    assert binary, "chromium not installed"
    with tempfile.TemporaryDirectory(prefix="yuliao-chromium-") as profile:
        proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.exists() and port_file.read_text().strip()):
                assert proc.poll() is None, "chromium exited during start-up"
                assert time.monotonic() < deadline, "chromium did not open its DevTools port"
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            pages = []
            while not pages:
                pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
                assert time.monotonic() < deadline, "no page target"
            return _drive(connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout), url, probe_js, deadline)
        finally:
            os.killpg(proc.pid, 9)
            proc.wait()


def _drive(ws, url: str, probe_js: str, deadline: float) -> PageLoad:
    out = PageLoad()
    seq = iter(range(1, 10_000))

    def send(method: str, params: dict | None = None) -> int:
        i = next(seq)
        ws.send(json.dumps({"id": i, "method": method, "params": params or {}}))
        return i

    def pump(until_id: int | None = None, until_event: str | None = None) -> dict:
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {until_event or until_id}"
            msg = json.loads(ws.recv(timeout=remaining))
            method = msg.get("method")
            p = msg.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                req = p["request"]["url"]
                if not req.startswith(("file:", "data:", "about:")):
                    out.requests.append(req)
            if until_id is not None and msg.get("id") == until_id:
                return msg
            if until_event is not None and method == until_event:
                return msg

    with ws:
        for m in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
            pump(until_id=send(m))
        send("Page.navigate", {"url": url})
        pump(until_event="Page.loadEventFired")
        res = pump(until_id=send("Runtime.evaluate", {"expression": probe_js, "returnByValue": True}))
        out.probe = res["result"]["result"].get("value")
    return out
