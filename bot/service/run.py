"""``babyloss-bot run``: start the Telegram service and keep it up until told to stop.

SIGTERM or SIGINT: stop taking updates, finish the ones in flight, exit 0 within 10 s.
SIGHUP: reload the dialogues (an invalid version is logged and the old one keeps serving).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import sys
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import TelegramError

from bot.service.config import Config, ConfigError, load_config
from bot.service.health import Health
from bot.service.logs import setup_logging
from bot.service.memory import release_free_memory
from bot.service.startup import (
    TokenRejected,
    close_unstarted,
    connect,
    describe_network_error,
)
from bot.storage.database import Database, StorageError, inspect_database
from bot.telegram.adapter import BabylossBot

log = logging.getLogger("babyloss.run")
SHUTDOWN_SECONDS = 9.0  # leave a margin inside the 10 s a service manager allows
# What @BotFather gives: the bot's number, a colon, then letters, digits, - and _.
BOTFATHER_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


def webhook_path(url: str) -> str:
    """The local path the webhook server listens on: the public URL's own path, so a
    reverse proxy can pass requests through unchanged."""
    return urlsplit(url).path.strip("/")


def load_service(config: Config, db: Database | None = None) -> BabylossBot:
    result = config.load_dialogues()
    release_free_memory()  # what loading freed (the safety model's file above all), now
    if not result.ok:
        errors = [p.format() for p in result.problems if p.is_error]
        raise ConfigError(
            f"the dialogues in {config.dialogues_path} have errors:\n" + "\n".join(errors)
        )
    for note in result.language_notes:
        # Drafts are expected (they ship unreviewed): the reason is news, not a fault.
        log.info(note)
    service = BabylossBot(config, result.dialogue, db=db)
    service.language_notes = result.language_notes
    return service


async def serve(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    service: BabylossBot | None = None,
) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed first, so a stop while the database opens or the dialogues load still
    # ends cleanly with 0 once that step is done.
    installed = _on_signals(loop, {signal.SIGTERM: stop.set, signal.SIGINT: stop.set})
    own_db = None
    try:
        if service is None:
            own_db = await Database.open(config.storage_path)
            service = load_service(config, own_db)
        if stop.is_set():
            log.info("stopped before starting")
            return 0
        return await _serve(config, service, stop, ready)
    finally:
        # Always closed: an open database keeps a thread alive and the process with it.
        if own_db is not None:
            await own_db.close()
        for sig in installed:
            loop.remove_signal_handler(sig)


def _on_signals(loop: asyncio.AbstractEventLoop, actions: dict) -> list:
    installed = []
    for sig, action in actions.items():
        try:
            loop.add_signal_handler(sig, action)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or not supported here
    return installed


async def _serve(
    config: Config, service: BabylossBot, stop: asyncio.Event, ready: asyncio.Event | None
) -> int:
    app = service.build_application()
    service.schedule_housekeeping(app)
    loop = asyncio.get_running_loop()
    installed = _on_signals(loop, {signal.SIGHUP: service.reload})
    health = None
    connected = False
    try:
        if config.health_port:
            # Up before Telegram is reached, so monitors see 503 while the bot waits.

            async def telegram_ok() -> bool:
                if not connected:
                    return False
                await app.bot.get_me()
                return True

            health = Health(
                version=lambda: service.dialogue.version,
                telegram=telegram_ok,
                database=service.db.ping if service.db else None,
                metrics=service.metrics.render if config.health_metrics else None,
            )
            try:
                port = await health.start(config.health_listen, config.health_port)
            except OSError as exc:  # most often: the port is taken
                raise ConfigError(health_port_problem(config, exc)) from None
            log.info("health check on http://%s:%s/healthz", config.health_listen, port)
        try:
            connected = await connect(app, stop)
        finally:
            if not connected:
                await close_unstarted(app)
        if connected:
            await _serve_connected(config, service, app, stop, ready)
    finally:
        if health:
            await health.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0


async def _serve_connected(
    config: Config,
    service: BabylossBot,
    app,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
) -> None:
    studio = None
    async with app:
        await app.start()
        try:
            await service.register_commands()
            if config.mode == "webhook":
                await app.updater.start_webhook(
                    listen=config.webhook.listen,
                    port=config.webhook.port,
                    url_path=webhook_path(config.webhook.url),
                    webhook_url=config.webhook.url,
                    secret_token=config.webhook.secret_token,
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=False,
                )
                log.info(
                    "webhook: listening on http://%s:%s/%s",
                    config.webhook.listen,
                    config.webhook.port,
                    webhook_path(config.webhook.url),
                )
            else:
                await app.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES, timeout=30, poll_interval=0
                )
            if config.studio.get("enabled"):
                # The volunteers' studio, beside the bot: its Publish uses the same reload.
                from bot.studio.serve import start_beside_bot

                studio = await start_beside_bot(config, service.reload)
            log.info(
                "started: babyloss-bot %s, dialogue %s (%d nodes), %s",
                program_version(),
                service.dialogue.version,
                len(service.dialogue.nodes),
                config.mode,
            )
            if ready:
                ready.set()
            await stop.wait()
            log.info("stopping: finishing updates in flight")
        finally:
            try:
                await asyncio.wait_for(_shutdown(app), timeout=SHUTDOWN_SECONDS)
            except TimeoutError:
                log.warning("some updates did not finish within %.0f s", SHUTDOWN_SECONDS)
            if studio:
                await studio.stop()
            await service.flush_visits()


async def _shutdown(app) -> None:
    if app.updater and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()


async def ask_telegram(config: Config) -> str:
    """--check --online: one getMe with the config's token and address; the bot's @name."""
    from telegram import Bot
    from telegram.error import Forbidden, InvalidToken, NetworkError

    from bot.telegram.transport import AiohttpRequest

    request = AiohttpRequest() if config.transport == "aiohttp" else None
    bot = Bot(config.token, base_url=config.base_url, request=request)
    try:
        async with bot:
            return f"ok, the token belongs to @{bot.username}"
    except (InvalidToken, Forbidden):
        # PTB's message quotes the token: say it in our own words.
        raise ConfigError(
            "Telegram rejected the bot token (Unauthorized); check TELEGRAM_BOT_TOKEN"
        ) from None
    except NetworkError as exc:
        reason = describe_network_error(exc).replace(config.token, "[REDACTED]")
        raise ConfigError(f"Telegram could not be reached ({reason})") from None


def program_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("babyloss-bot")
    except PackageNotFoundError:  # run from a source folder that was never installed
        return "(not installed)"


def health_port_problem(config: Config, exc: OSError) -> str:
    return (
        f"{config.health_listen}:{config.health_port}: cannot serve the health check there "
        f"({exc.strerror}); choose another health.port"
    )


def try_port(listen: str, port: int) -> None:
    """Bind ``listen:port`` as the server would (aiohttp reuses addresses), then let it go.
    Raises OSError when run could not listen there."""
    for family, kind, proto, _, address in socket.getaddrinfo(
        listen, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen()


def check_ports(config: Config) -> dict[str, str]:
    """The ports run would listen on, tried now: {'health' or 'webhook': the problem, phrased
    as run phrases it}."""
    problems = {}
    if config.health_port:
        try:
            try_port(config.health_listen, config.health_port)
        except OSError as exc:
            problems["health"] = health_port_problem(config, exc)
    if config.mode == "webhook":
        listen, port = config.webhook.listen, config.webhook.port
        try:
            try_port(listen, port)
        except OSError as exc:
            problems["webhook"] = (
                f"{listen}:{port}: cannot listen for the webhook there ({exc.strerror}); "
                "choose another telegram.webhook.port"
            )
    return problems


def check(config: Config, online: bool = False) -> int:
    """--check: validate config, dialogues, database and ports (as run would use them)."""
    ok = True
    if not config.token:
        print("error: no bot token: set TELEGRAM_BOT_TOKEN (or telegram.token in the config)")
        ok = False
    elif not BOTFATHER_TOKEN.fullmatch(config.token):
        # Never shown, not even in part: it may be a real token with a typo.
        print(
            "error: the bot token does not look like a bot token from @BotFather (digits, a "
            "colon, then letters, digits, - or _, with no spaces or quotes); check "
            "TELEGRAM_BOT_TOKEN (or telegram.token)"
        )
        ok = False
    try:
        service = load_service(config)
        print(
            f"dialogues: ok, version {service.dialogue.version}, "
            f"{len(service.dialogue.nodes)} nodes ({config.dialogues_path})"
        )
        print(f"languages: {', '.join(service.dialogue.settings.languages)}")
        for note in service.language_notes:
            print(f"note: {note}")
    except ConfigError as exc:
        print(f"error: {exc}")
        ok = False
    try:
        print(f"database: {inspect_database(config.storage_path)}")
    except StorageError as exc:
        print(f"error: {exc}")
        ok = False
    port_problems = check_ports(config)
    for problem in port_problems.values():
        print(f"error: {problem}")
    ok = ok and not port_problems
    health = (
        f"{config.health_listen}:{config.health_port}"
        + ("" if "health" in port_problems else " (free)")
        if config.health_port
        else "off"
    )
    print(f"mode: {config.mode}; health: {health}")
    if not online:
        print("telegram: not contacted (add --online to check the token with getMe)")
    elif config.token and BOTFATHER_TOKEN.fullmatch(config.token):
        try:
            print(f"telegram: {asyncio.run(ask_telegram(config))}")
        except ConfigError as exc:
            print(f"error: {exc}")
            ok = False
    print("check passed" if ok else "check failed")
    return 0 if ok else 1


def main_run(config_path: str | None, check_only: bool, online: bool = False) -> int:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        config.log_level, config.log_format, secrets=[config.token, config.webhook.secret_token]
    )
    if check_only:
        return check(config, online)
    if not config.token:
        print(
            "No bot token: set the TELEGRAM_BOT_TOKEN environment variable (or "
            "telegram.token in the config). To try the dialogues without Telegram, run "
            "'babyloss-bot chat'.",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(serve(config))
    except (ConfigError, StorageError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    except TokenRejected as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    except TelegramError as exc:  # after getMe worked: one line, and systemd restarts us
        reason = str(exc).replace(config.token, "[REDACTED]") if config.token else str(exc)
        print(f"Cannot start: Telegram answered {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
