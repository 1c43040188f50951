"""app.yaml: what a user pastes into "Create app -> From a manifest"."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft7Validator

from bot.slack.app import REQUIRED_SCOPES
from bot.slack.blocks import RERUN_ACTION_ID
from bot.slack.modal import GLOBAL_SHORTCUT
from bot.slack.shortcuts import MESSAGE_SHORTCUT

ROOT = Path(__file__).resolve().parents[2]
# Slack's manifest schema (slackapi/manifest-schema, MIT: LICENSE beside it)
SCHEMA = Path(__file__).parent / "data" / "app-manifest.schema.json"


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app.yaml").read_text())


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(Draft7Validator(schema).iter_errors(manifest()), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_schema_catches_mistakes() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = manifest()
    broken["features"]["slash_commands"][0]["command"] = "fpcheck"  # no leading slash
    broken["settings"]["socket_mode"] = True  # not a field
    assert len(list(Draft7Validator(schema).iter_errors(broken))) == 2


def test_bot_scopes_are_exactly_what_the_code_needs() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) == REQUIRED_SCOPES


def test_command_event_socket_mode_and_interactivity() -> None:
    m = manifest()
    (command,) = m["features"]["slash_commands"]
    assert command["command"] == "/fpcheck"
    assert command["usage_hint"] and command["description"]
    assert command["should_escape"] is False  # emails arrive as typed
    assert m["settings"]["event_subscriptions"]["bot_events"] == ["app_mention", "app_home_opened"]
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True  # the button, action_id below
    assert RERUN_ACTION_ID == "fpcheck_rerun"
    assert m["features"]["bot_user"]["display_name"] == "fpcheck"


def test_shortcuts_and_the_home_tab_are_the_ones_the_code_listens_for() -> None:
    # every shortcut's callback_id is the one its listener is registered under (bot/slack/shortcuts.py,
    # modal.py), of the same type; tests/bot/test_shortcuts.py sends each one through the real app
    m = manifest()
    shortcuts = {s["callback_id"]: s["type"] for s in m["features"]["shortcuts"]}
    assert shortcuts == {MESSAGE_SHORTCUT: "message", GLOBAL_SHORTCUT: "global"}
    assert all(len(s["name"]) <= 24 for s in m["features"]["shortcuts"])
    # the Home tab is drawn on app_home_opened (bot/slack/home.py); "only me" answers land in Messages
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["features"]["app_home"]["messages_tab_enabled"] is True
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
