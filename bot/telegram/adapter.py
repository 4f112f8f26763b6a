"""The Telegram adapter: turn updates into engine inputs and engine outputs into messages.

All conversation rules live in the pure engine; this module only talks to Telegram:
inline keyboards, answering every button press, removing used keyboards, gentle pacing
with a typing indicator, kind replies to stickers and photos, private chats only, and
flood control. It is assembled from collaborators, each built with what it uses: a
Sender (every Bot API call; retries and blocked parents), ParentData (/mydata, /forget),
ReminderMessages and Admin. Logs carry node ids, counts and update ids: never a
parent's id, name or words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from telegram import BotCommand, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.dialogue import engine
from bot.dialogue.engine import (
    Command,
    Context,
    Edit,
    Other,
    Pause,
    Press,
    Reply,
    Say,
    Start,
    StepResult,
)
from bot.dialogue.model import REMINDER_KINDS, Dialogue
from bot.dialogue.review import refusal
from bot.service.config import Config
from bot.service.memory import release_free_memory_job
from bot.service.metrics import Metrics
from bot.storage.database import Database, now_utc
from bot.storage.parents import ParentSessions
from bot.storage.sessions import MemorySessions
from bot.storage.stats import database_stats, format_stats
from bot.telegram.admin import ADMIN_COMMANDS, Admin
from bot.telegram.parent_data import FORGET, KEEP, WIPE, ParentData
from bot.telegram.reminder_jobs import Reminders
from bot.telegram.reminder_messages import STOP_PREFIX, ReminderMessages
from bot.telegram.sending import Sender, StopSending
from bot.telegram.transport import AiohttpRequest
from bot.telegram.updates import PerParentUpdateProcessor

log = logging.getLogger("babyloss.bot")

# Shown in the Telegram menu, in this order.
COMMANDS = [
    ("start", "Begin, or begin again"),
    ("menu", "The main menu"),
    ("help", "What I can do"),
    ("pause", "Not today: stop for now"),
    ("support", "Help numbers, at any moment"),
    ("privacy", "What I keep, and how to delete it"),
    ("mydata", "See everything I keep about you"),
    ("forget", "Delete everything I keep about you"),
    ("language", "Change language, e.g. /language cy"),
]
ENGINE_COMMANDS = {"menu", "privacy", "help", "pause", "support", "back", "restart", "language"}
# One parent sending more than config.flood_limit updates within FLOOD_WINDOW seconds is
# paused: the extra updates are dropped (never risk language) and they are told once.
FLOOD_WINDOW = 10.0


@dataclass
class Stats:
    """Anonymous counters: no ids, no text."""

    updates: int = 0
    steps: int = 0
    errors: int = 0
    crisis: int = 0
    safety_checks: int = 0
    throttled: int = 0
    visits: Counter = field(default_factory=Counter)


class BabylossBot:
    """Holds the current dialogue and the parents' sessions; handles their updates."""

    def __init__(
        self,
        config: Config,
        dialogue: Dialogue,
        *,
        db: Database | None = None,
        sleep=asyncio.sleep,
        clock=now_utc,
    ) -> None:
        self.config = config
        self.dialogue = dialogue
        self.db = db
        self.sessions = ParentSessions(
            MemorySessions(config.session_idle_hours * 3600), db, dialogue.settings.privacy_version
        )
        self.sleep = sleep
        self.pending_visits: Counter = Counter()  # anonymous, flushed to the database
        self.stats = Stats()
        self._recent_updates: dict[int, deque] = {}  # update times per parent, in memory
        self._slowed_until: dict[int, float] = {}
        self.metrics = Metrics()
        self.started = time.monotonic()
        self.application: Application | None = None  # set by build_application()
        # The collaborators, each given what it uses and nothing else.
        self.sender = Sender(lambda: self.application.bot, sleep=sleep)
        self.parent_data = ParentData(
            self.sessions, self.sender, self._system_text, lambda: self.dialogue
        )
        self.reminder_messages = ReminderMessages(
            self.sessions, self.sender, lambda: self.dialogue, self._system_text
        )
        self.admin = Admin(
            self.sender,
            dialogue=lambda: self.dialogue,
            reload=self.reload,
            figures=self.stats_text,
            show=self.send_outputs,
        )
        self.reminders = (
            Reminders(db, self.reminder_messages.send_reminder, clock=clock) if db else None
        )
        self.sessions.reminders = self.reminders

    @property
    def blocked(self) -> set[int]:
        """Chat ids of parents who blocked the bot (in memory only)."""
        return self.sender.blocked

    # -- Building the application ---------------------------------------------------
    def build_application(self, builder: ApplicationBuilder | None = None) -> Application:
        builder = builder or ApplicationBuilder()
        builder = (
            builder.token(self.config.token)
            .base_url(self.config.base_url)
            .rate_limiter(
                AIORateLimiter(
                    overall_max_rate=self.config.max_messages_per_second,
                    overall_time_period=1,
                    max_retries=5,
                )
            )
            .concurrent_updates(PerParentUpdateProcessor(256))
        )
        if self.config.transport == "aiohttp":
            builder = builder.request(AiohttpRequest()).get_updates_request(
                AiohttpRequest(connection_pool_size=2)
            )
        app = builder.build()
        self.application = app
        private = filters.ChatType.PRIVATE
        app.add_handler(
            MessageHandler(filters.ChatType.GROUPS | filters.ChatType.CHANNEL, self.on_group),
            group=0,
        )
        app.add_handler(
            CommandHandler(
                [name for name, _ in COMMANDS] + sorted(ENGINE_COMMANDS | ADMIN_COMMANDS),
                self.on_command,
                filters=private,
            )
        )
        app.add_handler(MessageHandler(filters.COMMAND & private, self.on_unknown_command))
        app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, self.on_edited))
        app.add_handler(
            MessageHandler(filters.TEXT & private & filters.UpdateType.MESSAGE, self.on_text)
        )
        app.add_handler(
            MessageHandler(~filters.TEXT & private & filters.UpdateType.MESSAGE, self.on_other)
        )
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)
        return app

    async def register_commands(self) -> None:
        """Show the commands in Telegram's menu (setMyCommands)."""
        try:
            await self.sender.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS])
        except TelegramError as exc:  # not fatal: the commands still work when typed
            log.warning("could not register commands: %s", type(exc).__name__)

    # -- Handlers ------------------------------------------------------------------
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.run_step(update, context, Say(update.effective_message.text or ""))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # A caption is typed words too: the engine passes it through the safety net.
        await self.run_step(update, context, Other(update.effective_message.caption or ""))

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # An edit is not a new step, but risk language in it still gets the crisis reply
        # (the engine decides; otherwise its result is quiet and nothing happens).
        text = update.effective_message.text or update.effective_message.caption or ""
        await self.run_step(update, context, Edit(text))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        # Always answer, so the parent's app never shows a spinner; alongside the step
        # rather than before it, as it does not need to wait for anything.
        answering = asyncio.create_task(self.sender.answer(query))
        try:
            if query.message is None or query.message.chat.type != ChatType.PRIVATE:
                return
            data = query.data or ""
            if data in (FORGET, KEEP, WIPE):
                await self.parent_data.on_forget_button(update, data)
            elif data.startswith(STOP_PREFIX) and data[len(STOP_PREFIX) :] in REMINDER_KINDS:
                await self.reminder_messages.stop_reminders(update, data[len(STOP_PREFIX) :])
            else:
                await self.run_step(update, context, Press(data))
        finally:
            await answering

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text or ""
        name = text.split()[0].lstrip("/").split("@")[0].lower()
        argument = text.partition(" ")[2].strip()
        user_id = update.effective_user.id
        if name in ADMIN_COMMANDS:
            if user_id in self.config.admins:
                await self.admin.on_admin(update, context, name, argument)
            else:  # to anyone else, admin commands do not exist
                await self.run_step(update, context, Command(name))
            return
        if name == "start":
            await self.run_step(update, context, Start())
        elif name in ENGINE_COMMANDS:
            if name == "language" and not self._may_use_language(argument.lower(), user_id):
                argument = ""  # a preview language does not exist for parents
            await self.run_step(update, context, Command(name, argument))
        elif name == "mydata":
            await self.parent_data.send_my_data(update)
        elif name == "forget":
            await self.parent_data.ask_to_forget(update)

    async def on_unknown_command(self, update: Update, context) -> None:
        name = (update.effective_message.text or "/").split()[0].lstrip("/")
        await self.run_step(update, context, Command(name[:32]))

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.CHANNEL or update.effective_message is None:
            return  # channel posts: nothing to say, and nobody to say it to
        await self.sender.send_quietly(chat.id, self._system_text("private_only"))

    async def on_membership(self, update: Update, context) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type != ChatType.PRIVATE:
            return
        if change.new_chat_member.status in ("kicked", "left"):
            self.sender.mark_blocked(change.chat.id)
        else:
            self.sender.mark_unblocked(change.chat.id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.stats.errors += 1
        self.metrics.errors.inc()
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        # The exception's class and Telegram's description only: never message text.
        log.error(
            "update %s failed: %s: %s",
            update_id,
            type(error).__name__,
            str(error)[:200] if isinstance(error, TelegramError) else "see debug log",
        )
        log.debug("update %s traceback", update_id, exc_info=error)

    # -- Housekeeping (JobQueue) ----------------------------------------------------------
    async def flush_visits(self, context=None) -> None:
        if self.db is None or not self.pending_visits:
            return
        visits, self.pending_visits = self.pending_visits, Counter()
        await self.db.add_visits(visits.items())

    async def apply_retention(self, context=None) -> int:
        expired = self.sessions.expire()
        deleted = 0
        if self.db is not None:
            deleted = await self.db.delete_inactive(self.config.retention_days)
        log.info(
            "retention: %d remembered parent(s) deleted after %d days without a visit; "
            "%d idle conversation(s) forgotten",
            deleted,
            self.config.retention_days,
            expired,
        )
        return deleted

    async def dispatch_reminders(self, context=None) -> Counter:
        outcome = await self.reminders.dispatch()
        for status, count in outcome.items():
            self.metrics.reminders.labels(outcome=status).inc(count)
        return outcome

    async def stats_text(self) -> str:
        """The anonymous figures behind /stats: the database's, plus this run's counters."""
        await self.flush_visits()
        if self.db is not None:
            stats = await asyncio.to_thread(database_stats, self.db.path)
        else:
            stats = {"remembered_parents": 0, "visits": dict(self.stats.visits), "reminders": {}}
        run = (
            f"Since start: {self.stats.updates} updates, {self.stats.steps} steps, "
            f"{self.stats.crisis} crisis replies, {self.stats.safety_checks} safety checks, "
            f"{self.stats.errors} errors."
        )
        return format_stats(stats, self.dialogue, active_sessions=len(self.sessions)) + "\n" + run

    def reload(self) -> tuple[bool, str]:
        """Load the dialogues again; keep the old ones if the new ones have errors."""
        result = self.config.load_dialogues()
        if not result.ok:
            errors = [p for p in result.problems if p.is_error]
            for problem in errors:
                log.error("reload rejected: %s", problem.format().replace("\n", " "))
            summary = (
                f"Reload rejected: {len(errors)} error(s); still serving version "
                f"{self.dialogue.version}."
            )
            log.error(summary)
            return False, summary
        old = self.dialogue.version
        self.dialogue = result.dialogue
        self.sessions.privacy_version = result.dialogue.settings.privacy_version
        summary = (
            f"Dialogues reloaded: version {old} -> {result.dialogue.version}, "
            f"{len(result.dialogue.nodes)} nodes."
        )
        log.info(summary)
        return True, summary

    def schedule_housekeeping(self, app: Application) -> None:
        jobs = app.job_queue
        jobs.run_repeating(self.flush_visits, interval=60, first=60, name="flush-visits")
        if self.reminders is not None:
            # first=1: reminders due while the bot was down are looked at straight away.
            jobs.run_repeating(self.dispatch_reminders, interval=30, first=1, name="reminders")
        jobs.run_repeating(self.apply_retention, interval=24 * 3600, first=30, name="retention")
        jobs.run_repeating(self.expire_idle, interval=3600, first=3600, name="expire-idle")
        jobs.run_repeating(release_free_memory_job, interval=60, first=60, name="release-memory")

    def _may_use_language(self, lang: str, user_id: int) -> bool:
        """Preview languages (not yet reviewed) are offered to admins only."""
        if user_id in self.config.admins or lang not in self.config.preview_languages:
            return True
        return refusal(self.dialogue, lang) is None

    # -- Steps -----------------------------------------------------------------------
    async def run_step(self, update: Update, context, inp) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        started = time.perf_counter()
        # Words (or an edit, which only counts if it holds risk language) go to the engine
        # before the flood check, which reads its decision.
        typed = isinstance(inp, Edit) or bool(engine.words_of(inp))
        if not typed:
            # No words, so nothing the safety net could act on: the flood check needs no step.
            self._count_update(chat.id)
            if self._flooding(user.id):
                await self._throttle(user.id, chat.id)
                return
        dialogue = self.dialogue  # one version for the whole step, even if a reload lands
        ctx = Context(first_name=user.first_name or "")
        session = await self.sessions.get(user.id)
        agreed = None
        if session is None:
            # Not in memory: a parent who asked to be remembered may be coming back.
            stored = await self.sessions.stored(user.id)
            if stored is not None:
                session, agreed = stored.session, stored.privacy_version
            else:
                session = engine.new_session(dialogue)
        # The engine reads the words once; the adapter only reads what it decided.
        result = engine.step(dialogue, session, inp, ctx, returning=agreed)
        if typed:
            if result.quiet:  # an edit with nothing for the safety net: not a step at all
                return
            self._count_update(chat.id)
            # Risk language is never held back, however fast a parent is writing.
            if self._flooding(user.id) and not result.risk:
                await self._throttle(user.id, chat.id)
                return
        self.parent_data.note_message(chat.id, update.effective_message)
        # Save before sending: the reply a parent sees must never be ahead of the record.
        await self.sessions.put(user.id, result.session)
        self._count(result)
        await self.send_outputs(chat.id, result)
        self.metrics.step_seconds.observe(time.perf_counter() - started)

    def _count_update(self, chat_id: int) -> None:
        self.stats.updates += 1
        self.metrics.updates.inc()
        self.sender.mark_unblocked(chat_id)  # they are writing to us, so they have not blocked us

    async def _throttle(self, user_id: int, chat_id: int) -> None:
        """Drop this update; the first time in a window, ask the parent to slow down."""
        self.stats.throttled += 1
        now = time.monotonic()
        if self._slowed_until.get(user_id, 0.0) < now:
            self._slowed_until[user_id] = now + FLOOD_WINDOW
            await self.sender.send_quietly(chat_id, self._system_text("slow_down"))

    def _flooding(self, user_id: int) -> bool:
        limit = self.config.flood_limit
        if not limit:
            return False
        now = time.monotonic()
        recent = self._recent_updates.get(user_id)
        if recent is None:
            recent = self._recent_updates[user_id] = deque(maxlen=limit + 1)
        recent.append(now)
        return len(recent) > limit and now - recent[0] < FLOOD_WINDOW

    async def expire_idle(self, context=None) -> int:
        """Hourly: forget idle conversations and counters, so memory does not grow."""
        expired = self.sessions.expire()
        self.forget_idle_counters()
        return expired

    def forget_idle_counters(self) -> None:
        """Drop flood counters nobody has used lately."""
        cutoff = time.monotonic() - FLOOD_WINDOW
        for user_id in [u for u, q in self._recent_updates.items() if q[-1] < cutoff]:
            del self._recent_updates[user_id]
        for user_id in [u for u, t in self._slowed_until.items() if t < cutoff]:
            del self._slowed_until[user_id]

    def _count(self, result: StepResult) -> None:
        self.stats.steps += 1
        self.metrics.steps.inc()
        for event in result.events:
            if event.startswith("node:"):
                self.stats.visits[event[5:]] += 1
                self.pending_visits[event[5:]] += 1
            elif event == "crisis":
                self.stats.crisis += 1
                self.metrics.crisis.inc()
                log.info("safety net: crisis reply sent")
            elif event == "safety_check":
                self.stats.safety_checks += 1
                self.metrics.safety_checks.inc()
                log.info("safety net: asked directly whether the parent is safe")

    async def send_outputs(
        self, chat_id: int, result: StepResult, *, remember_keyboard: bool = True
    ) -> None:
        delay = self.config.typing_delay_ms / 1000
        # Taking the used buttons away and sending the answer do not depend on each other:
        # side by side, a step costs the parent one round trip to Telegram less.
        tidying = self.sender.tidy_in_background(chat_id)
        try:
            for out in result.outputs:
                if isinstance(out, Pause):
                    if delay:
                        await self.sender.typing(chat_id)
                        await self.sleep(delay)
                    continue
                assert isinstance(out, Reply)
                message = await self.sender.send(chat_id, out.text, out.buttons)
                self.parent_data.note_message(chat_id, message)
                if out.buttons and message is not None and remember_keyboard:
                    self.sender.keyboards[chat_id] = message.message_id
        except StopSending:
            log.info("parent has blocked the bot; sends stopped")
        finally:
            if tidying is not None:
                await tidying

    def _system_text(self, key: str) -> str:
        return self.dialogue.system(key).pick(*self._langs(None))

    def _langs(self, session) -> tuple[str, str]:
        default = self.dialogue.settings.default_language
        return (getattr(session, "language", None) or default, default)
