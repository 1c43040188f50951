"""The one place the Bolt app is built.  Importing this module does no I/O; `build_app` does
(Bolt's constructor calls auth.test to check the token)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot import logs
from bot.service import Checker, Limits
from bot.slack import actions, command, fix, home, mention, modal, shortcuts, sweep
from bot.slack.arrival import RECEIVED
from bot.slack.dedupe import MemorySeenStore, SeenStore
from bot.slack.history import Remembering, history_for
from bot.slack.reply import Dropped, reply_address_ok
from bot.slack.settings import SlackSettings
from checks.fix.settings import FixSettings, load_fix_settings
from checks.settings import ConfigError

log = logging.getLogger("fpcheck.slack")

# Bot scopes the code needs, and app.yaml must grant (a test holds them equal):
#   commands           receive /fpcheck
#   chat:write         post the parent message and the threaded report, chat.update for Run again,
#                      chat.postEphemeral for usage and denials after a mention
#   app_mentions:read  receive app_mention
# The shortcuts come with `commands`; views.open / views.publish (the modal, the App Home) and the
# app_home_opened event need no scope; a report sent "only to me" is a chat:write DM.
# Not requested on purpose: chat:write.public (a report naming a customer should only appear where
# fpcheck was invited; elsewhere the asker gets it privately through the command's response_url).
REQUIRED_SCOPES: frozenset[str] = frozenset({"commands", "chat:write", "app_mentions:read"})

WORKERS = 16  # checks that may run at once; Bolt's default of 5 makes bursts queue
SLACK_TIMEOUT = 10  # seconds per Slack Web API call
RATE_LIMIT_RETRIES = 2
MAX_RETRY_AFTER = 10  # seconds: a longer Retry-After fails the call instead of holding a worker
FROM_SETTINGS = Limits(per_user=-1)  # build_app's default: FPCHECK_USER_LIMIT / FPCHECK_CHANNEL_LIMIT
Next = Callable[[], BoltResponse | None]  # what a Bolt middleware calls to go on


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Honour Slack's Retry-After on a 429, a few times, unless it asks for a long wait."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        try:
            wait = int(values[0]) if values else 1
        except ValueError:
            wait = 1
        return wait <= MAX_RETRY_AFTER


def retry_handlers() -> list[RetryHandler]:
    return [ConnectionErrorRetryHandler(), BoundedRateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def make_client(settings: SlackSettings) -> WebClient:
    return WebClient(
        token=settings.bot_token(),
        base_url=settings.slack_api_base_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=retry_handlers(),
    )


def build_app(
    settings: SlackSettings,
    engine: Checker,
    client: WebClient | None = None,
    *,
    executor: Executor | None = None,
    seen: SeenStore | None = None,
    limits: Limits | None = FROM_SETTINGS,
    fixes: FixSettings | None = None,
) -> App:
    """A Bolt app with fpcheck's listeners, for Socket Mode (SLACK_APP_TOKEN set) or HTTP.

    `client` defaults to one built from the settings; a given client gets the bounded rate-limit
    retry added if it has none.  `limits`: how often one person or channel may ask (default: the
    settings'; None: no limit, for benches).  Raises ConfigError for settings that cannot work.
    """
    if os.environ.get("SLACK_CLIENT_ID") and os.environ.get("SLACK_CLIENT_SECRET"):
        # Bolt would silently switch to multi-workspace OAuth mode and ignore the bot token
        raise ConfigError(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set: fpcheck is a single-workspace app; unset them"
        )
    settings.require_transport()
    if client is None:
        client = make_client(settings)
    elif not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(BoundedRateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))

    http = settings.mode == "http"
    bolt_log = logging.getLogger("fpcheck.slack.bolt")
    if logs.not_bolt_noise not in bolt_log.filters:
        bolt_log.addFilter(logs.not_bolt_noise)
    app = App(
        client=client,
        # "" (not None) so Bolt does not fall back to reading SLACK_SIGNING_SECRET itself
        signing_secret=settings.signing_secret() or "",
        request_verification_enabled=http,  # Socket Mode messages are not signed
        listener_executor=executor or ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fpcheck"),
        # Ack in the request's own thread.  Otherwise Bolt queues the ack function on the same pool
        # as the checks (lazy listeners) and polls for it: once a burst fills the pool, acks wait
        # behind whole checks and miss Slack's 3 s (bench/slack_load.py, before this: 19 of a burst
        # of 50 acked within 3 s).  Lazy listeners still run on the pool, after the ack.
        process_before_response=True,
        logger=bolt_log,
        name="fpcheck",
    )

    store = seen or MemorySeenStore()

    @app.middleware
    def stamp_arrival(context: dict, next: callable) -> BoltResponse | None:  # type: ignore[valid-type]
        # when the request arrived: a check's deadline and the audit's duration count the time it
        # then waited for a free worker (lazy listeners get a copy of this context)
        context.setdefault(RECEIVED, time.monotonic())
        return next()

    @app.middleware
    def drop_retried_events(body: dict, next: callable) -> BoltResponse | None:  # type: ignore[valid-type]
        # Runs after signature verification, so unsigned requests cannot fill the store.
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not store.first_time(event_id):
            log.info("ignored a repeated delivery of Slack event %s", event_id)
            return BoltResponse(status=200, body="")
        return next()

    @app.middleware
    def answer_a_request_once(request: BoltRequest, next: Next) -> BoltResponse | None:
        # After signature verification.  Slack signs every delivery anew (a retry has its own
        # timestamp), so a signature seen again is the same request replayed: answered once.
        signature = (request.headers.get("x-slack-signature") or [None])[0]
        if signature and not store.first_time("signature:" + signature):
            log.warning("ignored a replayed Slack request (a signature already answered)")
            return BoltResponse(status=200, body="")
        return next()

    @app.middleware
    def only_this_workspace_and_app(context: BoltContext, body: dict, next_: Next) -> BoltResponse | None:
        # The bot's workspace is what auth.test said of its token (Bolt asked at start-up); a request
        # naming another (another org's user in a shared channel, an install elsewhere) or another app
        # would get this workspace's customers' data.  An org-wide install matches on the org.  (next_:
        # Bolt's other name for next, so the built-in next() stays usable here)
        ours = context.authorize_result
        app_id = body.get("api_app_id")
        # Bolt's team (an event's installation) and the team the request says it came from
        teams = {t for t in (context.team_id, body.get("team_id")) if isinstance(t, str) and t}
        same_org = bool(ours and ours.enterprise_id and ours.enterprise_id == context.enterprise_id)
        team = next((t for t in teams if ours and t != ours.team_id), None)
        other_team = bool(ours and ours.team_id and team and not same_org)
        other_app = bool(settings.app_id and isinstance(app_id, str) and app_id != settings.app_id)
        if other_team or other_app:
            log.warning("refused a request for %s %s", "workspace" if other_team else "app",
                        str(team if other_team else app_id)[:40])
            return BoltResponse(status=403, body="this fpcheck answers only its own workspace and app")
        return next_()

    @app.middleware
    def replies_only_to_slack(context: BoltContext, next: Next) -> BoltResponse | None:
        # respond() posts to whatever response_url the request names: only Slack's own (the report
        # names a customer); anything else gets a respond() that sends nothing and logs it
        url = context.response_url
        if url and not reply_address_ok(url, settings.reply_origins):
            context["respond"] = Dropped(url)
        return next()

    if limits is FROM_SETTINGS:
        limits = settings.limits
    # Remembering: the Service, each delivered report also kept for the asker's App Home (bot/slack/history.py)
    history = history_for(engine)
    service = Remembering(engine, settings.allowed_channels, settings.allowed_users, settings.sweep_users, limits,
                          history=history)
    sweep.register(app, service)  # `/fpcheck sweep ...` first: Bolt picks the first listener that matches
    command.register(app, service)
    mention.register(app, service)
    actions.register(app, service)
    # the Fix… button and its modal (FPCHECK_ALLOW_FIXES; `fixes` None: read from the environment)
    if fixes is None:  # fpcheck serve's settings hold them (one load); else read them here
        fixes = settings if isinstance(settings, FixSettings) else load_fix_settings()
    fix.register(app, service, engine, store, fixes)
    shortcuts.register(app, service, store)  # Check with fpcheck (message shortcut) and its picker
    modal.register(app, service, store, settings.reply_origins)  # Check a customer (global shortcut, modal)
    home.register(app, service, home.Home(settings, engine, history, REQUIRED_SCOPES), store)  # App Home
    return app
