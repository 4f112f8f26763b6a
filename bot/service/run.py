"""``babyloss-bot run``: start the Telegram service and keep it up until told to stop.

SIGTERM or SIGINT: stop taking updates, finish the ones in flight, exit 0 within 10 s.
SIGHUP: reload the dialogues (an invalid version is logged and the old one keeps serving).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from telegram import Update

from bot.service.config import Config, ConfigError, load_config
from bot.service.health import Health
from bot.service.logs import setup_logging
from bot.service.telegram_bot import BabylossBot
from bot.storage import Database, StorageError, inspect_database

log = logging.getLogger("babyloss.run")
SHUTDOWN_SECONDS = 9.0  # leave a margin inside the 10 s a service manager allows
WEBHOOK_PATH = "telegram"


def load_service(config: Config, db: Database | None = None) -> BabylossBot:
    result = config.load_dialogues()
    if not result.ok:
        errors = [p.format() for p in result.problems if p.is_error]
        raise ConfigError(
            f"the dialogues in {config.dialogues_path} have errors:\n" + "\n".join(errors)
        )
    return BabylossBot(config, result.dialogue, db=db)


async def serve(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    service: BabylossBot | None = None,
) -> int:
    own_db = None
    if service is None:
        own_db = await Database.open(config.storage_path)
        try:
            service = load_service(config, own_db)
        except ConfigError:
            await own_db.close()
            raise
    app = service.build_application()
    service.schedule_housekeeping(app)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig, action in (
        (signal.SIGTERM, stop.set),
        (signal.SIGINT, stop.set),
        (signal.SIGHUP, service.reload),
    ):
        try:
            loop.add_signal_handler(sig, action)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or not supported here
    health = None
    studio = None
    async with app:
        await app.start()
        try:
            await service.register_commands()
            if config.mode == "webhook":
                await app.updater.start_webhook(
                    listen=config.webhook.listen,
                    port=config.webhook.port,
                    url_path=WEBHOOK_PATH,
                    webhook_url=config.webhook.url,
                    secret_token=config.webhook.secret_token,
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=False,
                )
            else:
                await app.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES, timeout=30, poll_interval=0
                )
            if config.health_port:

                async def telegram_ok() -> bool:
                    await app.bot.get_me()
                    return True

                health = Health(
                    version=lambda: service.dialogue.version,
                    telegram=telegram_ok,
                    database=service.db.ping if service.db else None,
                    metrics=service.metrics.render if config.health_metrics else None,
                )
                port = await health.start(config.health_listen, config.health_port)
                log.info("health check on http://%s:%s/healthz", config.health_listen, port)
            if config.studio.get("enabled"):
                from bot.studio.serve import start_beside_bot

                studio = await start_beside_bot(config, service.reload)
            log.info(
                "serving dialogue %s (%d nodes) by %s",
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
            if health:
                await health.stop()
            if studio:
                await studio.stop()
            await service.flush_visits()
            if own_db is not None:
                await own_db.close()
    for sig in installed:
        loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0


async def _shutdown(app) -> None:
    if app.updater and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()


def check(config: Config) -> int:
    """--check: validate config, dialogues and database, then exit."""
    ok = True
    if not config.token:
        print("error: no bot token: set TELEGRAM_BOT_TOKEN (or telegram.token in the config)")
        ok = False
    try:
        service = load_service(config)
        print(
            f"dialogues: ok, version {service.dialogue.version}, "
            f"{len(service.dialogue.nodes)} nodes ({config.dialogues_path})"
        )
    except ConfigError as exc:
        print(f"error: {exc}")
        ok = False
    try:
        print(f"database: {inspect_database(config.storage_path)}")
    except StorageError as exc:
        print(f"error: {exc}")
        ok = False
    print(
        f"mode: {config.mode}; health: "
        f"{f'{config.health_listen}:{config.health_port}' if config.health_port else 'off'}"
    )
    print("check passed" if ok else "check failed")
    return 0 if ok else 1


def main_run(config_path: str | None, check_only: bool) -> int:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        config.log_level, config.log_format, secrets=[config.token, config.webhook.secret_token]
    )
    if check_only:
        return check(config)
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
