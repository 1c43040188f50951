"""`fpcheck serve` in Socket Mode over a real WebSocket: the process runs serve's own code path
(SLACK_APP_TOKEN set -> SocketModeHandler), asks the Slack Web API stand-in for a URL
(apps.connections.open with the app-level token), connects to the loopback WebSocket stand-in, and
acks the envelopes it is pushed; the reports go to the Web API stand-in.  SIGTERM stops it."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from slack_harness import APP_ID, APP_TOKEN, BOT_TOKEN, all_text, event_envelope, mention, stop_serve
from stand_ins.slack_api import TEAM_ID, SlackStandIn
from stand_ins.slack_socket import SocketModeStandIn

ACK_WITHIN = 3.0  # Slack's limit for an ack


@pytest.fixture
def ws() -> Iterator[SocketModeStandIn]:
    with SocketModeStandIn(APP_ID) as standin:
        yield standin


def _pump(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    stream.close()


def _drained(lines: queue.Queue) -> str:
    out = []
    while not lines.empty():
        out.append(lines.get_nowait())
    return "".join(out)


def test_serve_in_socket_mode_over_a_real_websocket(clean_sandbox, slack: SlackStandIn, ws, tmp_path) -> None:
    slack.socket_mode(APP_TOKEN, ws.issue_url)
    env = {
        **os.environ,
        **clean_sandbox.env(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,  # Socket Mode; no signing secret needed
        "SLACK_API_BASE_URL": slack.api_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bot.slack.serve import main; sys.exit(main(sys.argv[1:]))"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out: queue.Queue = queue.Queue()
    err: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, err), daemon=True).start()
    stderr = ""
    try:
        try:
            ws.wait_connected(timeout=20)  # start-up: imports, auth.test, apps.connections.open
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nserve's stderr:\n{_drained(err)}") from None
        (opened,) = slack.of("apps.connections.open")
        assert opened.authorization == f"Bearer {APP_TOKEN}"  # the app-level token, not the bot's

        # /fpcheck: acked over the socket with the ephemeral "Checking…", then posted and threaded
        ws.push(
            {
                "type": "slash_commands",
                "envelope_id": "env-cmd-1",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": TEAM_ID, "channel_id": "C0GENERAL", "channel_name": "general",
                    "user_id": "U0ALICE", "user_name": "alice", "command": "/fpcheck",
                    "text": "healthy@example.com", "api_app_id": APP_ID, "trigger_id": "1.2.3",
                    "response_url": slack.response_url(),
                },
            }
        )  # fmt: skip
        ack = ws.wait_ack("env-cmd-1", timeout=ACK_WITHIN)
        assert ack.at - ws.pushed["env-cmd-1"] < ACK_WITHIN
        assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
        assert ack.payload["text"].endswith("Checking healthy@example.com…")
        parent, report = slack.wait_for("chat.postMessage", 2, timeout=15)
        assert parent.params["channel"] == "C0GENERAL" and "thread_ts" not in parent.params
        parent_ts = next(ts for (ch, ts), m in slack.messages.items() if m["text"] == parent.params["text"])
        assert report.params["thread_ts"] == parent_ts
        assert report.params["blocks"][0]["text"]["text"] == "fpcheck: healthy@example.com"
        assert ":white_check_mark: Every check passed." in all_text(report.params["blocks"])

        # a mention inside a thread: acked (no payload), answered in that thread
        thread = slack.add_message("C0ESCALATE", "no commission for healthy@example.com?")
        asked = slack.add_message("C0ESCALATE", "@fpcheck healthy@example.com")
        event = {
            "type": "events_api",
            "envelope_id": "env-ev-1",
            "accepts_response_payload": False,
            "payload": event_envelope(
                mention("healthy@example.com", channel="C0ESCALATE", ts=asked, thread_ts=thread),
                "Ev0LIVE0001",
            ),
        }
        ws.push(event)
        ack = ws.wait_ack("env-ev-1", timeout=ACK_WITHIN)
        assert ack.at - ws.pushed["env-ev-1"] < ACK_WITHIN and ack.payload is None
        answer = slack.wait_for("chat.postMessage", 3, timeout=15)[2]
        assert answer.params["channel"] == "C0ESCALATE" and answer.params["thread_ts"] == thread

        # Slack redelivers the same event (same event_id): acked, not answered again
        ws.push({**event, "envelope_id": "env-ev-2", "retry_attempt": 1, "retry_reason": "timeout"})
        assert ws.wait_ack("env-ev-2", timeout=ACK_WITHIN).payload is None
    finally:
        code = stop_serve(proc)
        stderr = _drained(err)
    assert code == 0, stderr
    # the process exits only after its listener pool has run everything it was given, so the
    # count is final: the redelivered event was not answered
    assert slack.count("chat.postMessage") == 3, slack.methods()
    ws.wait_ended(1, timeout=5)  # it hung up on the way out
    assert ws.accepted == 1 and ws.refused == [] and ws.faults == []
    assert sorted(a.envelope_id for a in ws.acks) == ["env-cmd-1", "env-ev-1", "env-ev-2"]
    for secret in (APP_TOKEN, BOT_TOKEN):
        assert secret not in stderr + _drained(out)
