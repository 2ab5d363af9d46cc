"""Webhook notifications from flow state hooks: a failed flow posts one JSON message; no URL, no post."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prefect import flow

from flows.io.notify import WEBHOOK_ENV, build_message, notify_completion, notify_failure


class _Sink(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Sink.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def webhook(monkeypatch):
    _Sink.received = []
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{server.server_port}/hook")
    yield _Sink.received
    server.shutdown()


@flow(name="notify-test-fails", on_failure=[notify_failure])
def failing_flow(recipe_path: str) -> None:
    raise ValueError("shard 3 unreadable")


@flow(name="notify-test-ok", on_completion=[notify_completion])
def ok_flow(run: str) -> str:
    return run


@pytest.mark.integration
def test_failed_flow_posts_to_webhook(webhook, prefect_api):
    with pytest.raises(ValueError):
        failing_flow("configs/recipes/demo.yaml")
    ok_flow("runs/x")
    assert [m["event"] for m in webhook] == ["failed", "completed"]
    failed, done = webhook
    assert failed["flow"] == "notify-test-fails" and failed["state"] == "Failed"
    assert "shard 3 unreadable" in failed["text"] and "configs/recipes/demo.yaml" in failed["text"]
    assert failed["parameters"] == {"recipe_path": "configs/recipes/demo.yaml"}
    assert done["text"].startswith("yuliao notify-test-ok finished") and "runs/x" in done["text"]


@pytest.mark.integration
def test_no_webhook_no_post(webhook, monkeypatch, prefect_api):
    monkeypatch.delenv(WEBHOOK_ENV)
    with pytest.raises(ValueError):
        failing_flow("r.yaml")
    assert webhook == []


def test_message_shape():
    m = build_message("failed", "curate", "brave-fox", "Failed", "x" * 2000, {"recipe_path": "r.yaml"})
    assert m["text"].startswith("yuliao curate FAILED: brave-fox (r.yaml) — ") and len(m["text"]) < 600
