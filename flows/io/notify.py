"""Webhook notifications from Prefect flow state hooks: a failed run, a finished release.

Set `YULIAO_NOTIFY_WEBHOOK` to a URL (Slack/Mattermost/Feishu-style incoming webhook, or any
endpoint taking JSON) and yuliao POSTs one JSON message per event: `text` (a human-readable line,
which chat webhooks display) plus structured fields. Unset, nothing is sent. A notification that
cannot be delivered is logged and never changes the flow's outcome.
"""

from __future__ import annotations

import logging
import os
import socket

WEBHOOK_ENV = "YULIAO_NOTIFY_WEBHOOK"
TIMEOUT_SECONDS = 10.0
log = logging.getLogger("yuliao.notify")


def build_message(event: str, flow_name: str, flow_run_name: str, state_name: str, message: str | None,
                  parameters: dict | None) -> dict:
    """Return the JSON body of one notification."""
    subject = {"failed": "FAILED", "completed": "finished"}.get(event, event)
    what = parameters.get("recipe_path") or parameters.get("run") or "" if parameters else ""
    text = f"yuliao {flow_name} {subject}: {flow_run_name}" + (f" ({what})" if what else "")
    if message and event == "failed":
        text += f" — {message[:500]}"
    return {"text": text, "event": event, "flow": flow_name, "flow_run": flow_run_name, "state": state_name,
            "message": message, "parameters": parameters or {}, "host": socket.gethostname()}


def post(url: str, body: dict) -> bool:
    """POST `body` as JSON; return whether the endpoint accepted it (2xx)."""
    import httpx

    try:
        r = httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)
        ok = 200 <= r.status_code < 300
        if not ok:
            log.warning("notification webhook answered %s: %s", r.status_code, r.text[:200])
        return ok
    except httpx.HTTPError as exc:
        log.warning("notification webhook unreachable: %s", exc)
        return False


def _hook(event: str):
    def hook(flow, flow_run, state) -> None:
        url = os.environ.get(WEBHOOK_ENV)
        if not url:
            return
        post(url, build_message(event, flow.name, flow_run.name, state.name, state.message, dict(flow_run.parameters or {})))

    hook.__name__ = f"notify_{event}"
    return hook


notify_failure = _hook("failed")  # for @flow(on_failure=[...], on_crashed=[...])
notify_completion = _hook("completed")  # for @flow(on_completion=[...])
