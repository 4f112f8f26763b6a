"""The dialogue engine: (dialogue, session, input) -> (new session, outputs). Pure.

No I/O and no Telegram types: the Telegram service, the terminal simulator and the
conversation tests all drive this same function. Every free-text input passes the safety
net first, wherever the parent is in the dialogue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from bot.dialogue.checks import callback_data
from bot.dialogue.dates import parse_day_month
from bot.dialogue.model import Capture, Dialogue, Node, Option, Text, conditions_hold, freeze
from bot.dialogue.names import parse_names
from bot.dialogue.reminders import PREFERENCE_VARIABLES
from bot.dialogue.templating import render
from bot.safety import ASK, CRISIS, assess
from bot.safety.languages import is_safe_answer_any, other_languages_risk

HISTORY_LIMIT = 30
KEPT_ON_RESTART = frozenset(
    {"region", "remember", *PREFERENCE_VARIABLES}
)  # enough for "back" without letting a session grow without bound
COMMANDS = ("start", "menu", "back", "restart", "pause", "help", "support", "language")


# -- Session --------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """Where a parent is. Immutable: every step returns a new one."""

    node: str | None = None
    variables: MappingProxyType = field(default_factory=freeze)
    language: str | None = None
    history: tuple[str, ...] = ()
    # The safety net has just asked "are you having thoughts of ending your life?": the
    # next typed message is read as the answer.
    asked: bool = False

    def to_dict(self) -> dict:
        data = {
            "node": self.node,
            "variables": dict(self.variables),
            "language": self.language,
            "history": list(self.history),
        }
        if self.asked:
            data["asked"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Session:
        return cls(
            node=data.get("node"),
            variables=freeze(data.get("variables") or {}),
            language=data.get("language"),
            history=tuple(data.get("history") or ())[-HISTORY_LIMIT:],
            asked=data.get("asked") is True,
        )


# -- Inputs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    """The parent opens the conversation (/start)."""


@dataclass(frozen=True)
class Press:
    """A button press; ``data`` is the callback data the button carried."""

    data: str


@dataclass(frozen=True)
class Say:
    """Free text the parent typed."""

    text: str


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""


@dataclass(frozen=True)
class Other:
    """Something that is not text or a button: a sticker, photo, voice note... A caption
    is typed words too: it passes the safety net like any text."""

    caption: str = ""


@dataclass(frozen=True)
class Edit:
    """The parent changed the words of a message already sent. Not a new step: only risk
    language in it gets an answer."""

    text: str


Input = Start | Press | Say | Command | Other | Edit


def words_of(inp: Input) -> str:
    """The words the parent typed in this input, for the safety net ("" if none)."""
    if isinstance(inp, Say | Edit):
        return inp.text
    if isinstance(inp, Other):
        return inp.caption
    return ""


# -- Outputs --------------------------------------------------------------------------
@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class Reply:
    """One message to send. ``kind`` is note, message, system or crisis."""

    text: str
    buttons: tuple[Button, ...] = ()
    kind: str = "message"


@dataclass(frozen=True)
class Pause:
    """A gentle pause before the next message (the adapter decides how long)."""


Output = Reply | Pause


@dataclass(frozen=True)
class StepResult:
    session: Session
    outputs: tuple[Output, ...]
    events: tuple[str, ...] = ()  # anonymous facts for counters: "node:<id>", "crisis", ...
    # The safety net acted on the words typed (crisis reply, or asking directly). The
    # adapter reads this (a parent sending too fast is never held back from help) rather
    # than asking the safety net a second time.
    risk: bool = False

    @property
    def quiet(self) -> bool:
        """Nothing to send and nothing changed: e.g. an edit with no risk language."""
        return not self.outputs

    @property
    def replies(self) -> list[Reply]:
        return [o for o in self.outputs if isinstance(o, Reply)]

    @property
    def buttons(self) -> tuple[Button, ...]:
        for out in reversed(self.outputs):
            if isinstance(out, Reply) and out.buttons:
                return out.buttons
        return ()


@dataclass(frozen=True)
class Context:
    """Values known for this step only, never stored: e.g. the Telegram first name."""

    first_name: str = ""


# -- Stepping -------------------------------------------------------------------------
def new_session(dialogue: Dialogue, language: str | None = None) -> Session:
    return Session(
        variables=freeze(
            {"region": dialogue.settings.default_region, **dialogue.settings.variables}
        ),
        language=language,
    )


def typed_names(dialogue: Dialogue, session: Session) -> dict[str, str]:
    """The words a parent typed that this session keeps (a baby's name), by variable."""
    return {
        name: str(value)
        for name in sorted(dialogue.name_variables())
        if (value := session.variables.get(name))
    }


def held_in_memory(dialogue: Dialogue, session: Session) -> str:
    """What /mydata says about a typed name held only in memory ("" if there is none).
    HTML: the name is escaped, as every value a parent gave."""
    names = typed_names(dialogue, session)
    if not names:
        return ""
    text = _t(dialogue, session, dialogue.system("held_in_memory"))
    return render(text, {"name": " / ".join(names.values())})


def forget_typed(dialogue: Dialogue, session: Session) -> Session:
    """The session without the words a parent typed (for /forget where nothing is stored)."""
    kept = {k: v for k, v in session.variables.items() if k not in dialogue.name_variables()}
    return replace(session, variables=freeze(kept))


def option_key(option: Option) -> str:
    """Four hex digits that change when an option's label or target changes."""
    raw = repr((sorted(option.label.variants.items()), option.to)).encode()
    return hashlib.blake2s(raw, digest_size=2).hexdigest()


def step(
    dialogue: Dialogue,
    session: Session,
    inp: Input,
    context: Context | None = None,
    *,
    returning: str | None = None,
) -> StepResult:
    """Advance ``session`` by one input and say what to send.

    The safety net reads the typed words once, here; ``result.risk`` says whether it acted.
    ``returning`` is the privacy version a remembered parent agreed to, when they come back
    and their session was read from storage (see :func:`_returning`)."""
    ctx = context or Context()
    words = words_of(inp)
    level = assess(words, dialogue.risk_phrases) if words else None
    if words and level != CRISIS and other_languages_risk(words, dialogue.language_phrases):
        level = CRISIS  # the crisis words of another language the dialogue offers
    if level is not None and isinstance(inp, Say):
        level = _in_context(dialogue, session, inp.text, level)
    if level is not None and not isinstance(inp, Say):
        inp = Say(words)  # a caption or an edit with risk language: answered as typed words
    if returning is not None and level is None:
        result = _returning(dialogue, session, inp, ctx, returning)
    else:
        result = _step(dialogue, session, inp, ctx, level)
    return replace(result, risk=True) if level is not None else result


def _in_context(d: Dialogue, s: Session, text: str, level: str) -> str | None:
    """The safety net's verdict, read against where the parent is. Two rules, both
    tested without Telegram: a button's own words typed out ("Small steps to stay safe")
    are the bot's words, not the parent's, so they count as pressing it; and when the net
    would only ask, but the node's typed route for these words leads to the crisis reply
    ("I need help"), the crisis reply comes at once. Nothing here ever quietens a crisis
    verdict on the parent's own words."""
    node = d.nodes.get(s.node) if s.node and not s.asked else None
    if node is None:
        return level
    words = _normalise(text)
    lang = _lang(d, s)
    for option in _visible_options(node, s):
        if _normalise(option.label.pick(lang, d.settings.default_language)) == words:
            return None
    if level == ASK and node.free_text:
        route = _route_for(node.free_text, words)
        if route is not None and route.to == d.entry["crisis"]:
            return CRISIS
    return level


def _route_for(ft, words: str):
    """The first typed route these (normalised) words match, as :func:`_say` finds it."""
    for route in ft.routes:
        if any(_contains_phrase(words, m) for m in route.match) and not any(
            _contains_phrase(words, m) for m in route.not_with
        ):
            return route
    return None


def _returning(
    d: Dialogue, s: Session, inp: Input, ctx: Context, agreed_privacy: str
) -> StepResult:
    """A remembered parent comes back after their conversation left memory. Risk language
    never reaches here (it is answered first), and a button press carries on as pressed.
    If the privacy text changed materially since they agreed, ask again; a start, words
    or a sticker get "carry on or start afresh?"; anything else is a step as usual."""
    if isinstance(inp, Press | Edit):
        return _step(d, s, inp, ctx, None)
    if agreed_privacy != d.settings.privacy_version and "consent" in d.entry:
        return enter(d, s, d.entry["consent"], ctx)
    if isinstance(inp, Start | Say | Other):
        return welcome_back(d, s)
    return _step(d, s, inp, ctx, None)


def _step(
    dialogue: Dialogue, session: Session, inp: Input, ctx: Context, level: str | None
) -> StepResult:
    if isinstance(inp, Edit):  # no risk language in it (see step): nothing to answer
        return StepResult(session, ())
    answering = session.asked  # whatever comes next, the question has had its turn
    if answering:
        session = replace(session, asked=False)
    if isinstance(inp, Start):
        fresh = replace(
            new_session(dialogue, session.language),
            variables=freeze(
                {**new_session(dialogue).variables, **_kept_on_restart(dialogue, session)}
            ),
        )
        return _goto(dialogue, fresh, dialogue.entry["start"], ctx, remember=False)

    if session.node is not None and session.node not in dialogue.nodes:
        # The dialogue was reloaded and this parent's node no longer exists.
        moved = replace(session, history=())
        result = _goto(dialogue, moved, dialogue.entry["menu"], ctx, remember=False)
        note = Reply(_t(dialogue, session, dialogue.system("node_gone")), kind="system")
        return replace(result, outputs=(note, *result.outputs), events=(*result.events, "gone"))

    if answering and isinstance(inp, Say):
        return _answer_to_check(dialogue, session, inp.text, ctx)
    if isinstance(inp, Command):
        return _command(dialogue, session, inp, ctx)
    if isinstance(inp, Press):
        return _press(dialogue, session, inp.data, ctx)
    if isinstance(inp, Say):
        return _say(dialogue, session, inp.text, ctx, level)
    if isinstance(inp, Other):
        return _redisplay(dialogue, session, ctx, dialogue.system("non_text"), events=("other",))
    raise TypeError(f"not an input: {inp!r}")


def enter(
    dialogue: Dialogue, session: Session, node_id: str, context: Context | None = None
) -> StepResult:
    """Show ``node_id`` as if the parent had just arrived there (for --from and /preview)."""
    return _goto(dialogue, session, node_id, context or Context(), remember=False)


def _kept_on_restart(dialogue: Dialogue, session: Session) -> dict:
    # A fresh start forgets where the parent was, not what they asked of the bot: their
    # region, whether to remember them, and the reminders they chose (with time zone),
    # plus what the dialogue lists (e.g. a baby's name, or "don't ask me for it").
    kept = KEPT_ON_RESTART | set(dialogue.settings.kept_on_restart)
    return {k: v for k, v in session.variables.items() if k in kept}


def _command(d: Dialogue, s: Session, cmd: Command, ctx: Context) -> StepResult:
    name = cmd.name.lower()
    if name in ("start", "restart"):
        return step(d, s, Start(), ctx)
    if name in ("menu", "pause", "help"):
        return _goto(d, s, d.entry[name], ctx)
    if name == "privacy":  # an optional entry point; the help node otherwise
        return _goto(d, s, d.entry.get("privacy") or d.entry["help"], ctx)
    if name == "support":
        return _goto(d, s, d.entry["crisis"], ctx, events=("support",))
    if name == "back":
        if not s.history:
            return _redisplay(d, s, ctx, d.system("nothing_to_go_back_to"))
        previous = s.history[-1]
        back = replace(s, history=s.history[:-1])
        if previous not in d.nodes:
            return _goto(d, back, d.entry["menu"], ctx, remember=False)
        return _goto(d, back, previous, ctx, remember=False)
    if name == "language":
        lang = cmd.argument.strip().lower()
        if lang in d.settings.languages:
            s = replace(s, language=lang)
            return _redisplay(d, s, ctx, d.system("language_set"))
        return _redisplay(d, s, ctx, d.system("language_unknown"))
    return _redisplay(d, s, ctx, d.system("unknown_command"))


RESUME, FRESH = "~|resume", "~|fresh"  # '~' never starts a node id: no clash possible
UNSAFE, SAFE = "~|unsafe", "~|safe"  # the answers to "are you having thoughts of..."


def welcome_back(dialogue: Dialogue, session: Session) -> StepResult:
    """A remembered parent returns: offer to carry on or start afresh."""
    buttons = (
        Button(_t(dialogue, session, dialogue.system("resume_label")), RESUME),
        Button(_t(dialogue, session, dialogue.system("fresh_label")), FRESH),
    )
    text = _t(dialogue, session, dialogue.system("welcome_back"))
    return StepResult(session, (Reply(text, buttons, kind="system"),), ("welcome_back",))


def _press(d: Dialogue, s: Session, data: str, ctx: Context) -> StepResult:
    if data == RESUME:
        target = s.node if s.node in d.nodes else d.entry["menu"]
        return _goto(d, s, target, ctx, remember=False, events=("resumed",))
    if data == FRESH:
        return step(d, s, Start(), ctx)
    if data == UNSAFE:
        return _goto(d, s, d.entry["crisis"], ctx, events=("crisis", "safety_check_yes"))
    if data == SAFE:  # where they were, untouched: the check never moved them
        text = d.system("safety_check_thanks")
        return _redisplay(d, s, ctx, text, events=("safety_check_no",))
    option = _option_from_data(d, s, data)
    if option is None:
        return _redisplay(d, s, ctx, d.system("moved_on"), events=("stale",))
    moved = replace(s, variables=freeze({**s.variables, **option.set}))
    return _goto(d, moved, option.to, ctx)


def _option_from_data(d: Dialogue, s: Session, data: str) -> Option | None:
    """The option a button stands for, if it still makes sense to follow it."""
    parts = data.split("|")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    node = d.nodes.get(parts[0])
    index = int(parts[1])
    if node is None or index >= len(node.options):
        return None
    option = node.options[index]
    if option_key(option) != parts[2] or not conditions_hold(option.conditions, s.variables):
        return None
    return option


def _say(d: Dialogue, s: Session, text: str, ctx: Context, level: str | None) -> StepResult:
    if level == CRISIS:
        # Safety first: wherever the parent is, risk language gets the crisis reply now.
        return _goto(d, s, d.entry["crisis"], ctx, events=("crisis",))
    if level == ASK:
        return _safety_check(d, s, ctx)
    node = d.nodes.get(s.node) if s.node else None
    if node is None:
        return step(d, s, Start(), ctx)
    words = _normalise(text)
    if node.free_text:
        ft = node.free_text
        # Grief is never sent somewhere it doesn't belong: a message that reads as grief
        # gets the gentle grief reply unless the route it matched is marked `follow`.
        grieving = ft.grief is not None and any(_contains_phrase(words, m) for m in ft.grief.match)
        route = _route_for(ft, words)
        if route is not None and not (grieving and route.grief != "follow"):
            moved = replace(s, variables=freeze({**s.variables, **route.set}))
            return _goto(d, moved, route.to, ctx)
        if grieving:
            return _goto(d, s, ft.grief.to, ctx, events=("grief",))
        capture = ft.capture
        if capture is not None:
            value = _captured(capture, text)
            if value is not None:  # keep only what was understood, never the words typed
                moved = replace(s, variables=freeze({**s.variables, capture.variable: value}))
                return _goto(d, moved, capture.then, ctx)
        return _goto(d, s, ft.fallback, ctx)
    # Typing a button's words is as good as pressing it (handy in the terminal too).
    lang = _lang(d, s)
    for option in _visible_options(node, s):
        if _normalise(option.label.pick(lang, d.settings.default_language)) == words:
            return _press(d, s, _data_for(node, option), ctx)
    return _redisplay(d, s, ctx, d.system("use_buttons"), events=("unrouted",))


def _captured(capture: Capture, text: str) -> str | None:
    if capture.kind == "date":
        return parse_day_month(text)
    if capture.kind == "name":
        return parse_names(text, capture.lead_ins)
    return None


def _answer_to_check(d: Dialogue, s: Session, text: str, ctx: Context) -> StepResult:
    """Words typed in answer to "are you having thoughts of ending your life?". Only a
    clear no and nothing else ("no", "No, I'm safe", "nope, just sad") carries on; yes,
    "not sure", "no, not yet" and anything else get the crisis reply, as the button
    "Yes, or I'm not sure" would."""
    if is_safe_answer_any(text, d):
        return _press(d, s, SAFE, ctx)
    return _press(d, s, UNSAFE, ctx)


def _safety_check(d: Dialogue, s: Session, ctx: Context) -> StepResult:
    """The safety net is unsure: ask directly, with the crisis reply one tap away. The
    parent stays where they were, so "No, I'm safe" carries on from there.

    With a ``safety_check`` entry point, that node's messages are the question (so they
    can show the emergency numbers for the parent's region before asking); the answers
    are always these two buttons."""
    buttons = (
        Button(_t(d, s, d.system("safety_check_yes_label")), UNSAFE),
        Button(_t(d, s, d.system("safety_check_no_label")), SAFE),
    )
    s = replace(s, asked=True)
    node = d.nodes.get(d.entry.get("safety_check", ""))
    shown = _render_node(d, s, replace(node, options=()), ctx) if node else []
    if node and shown and isinstance(shown[-1], Reply) and shown[-1].kind != "note":
        outputs = (*shown[:-1], replace(shown[-1], buttons=buttons))
        return StepResult(s, outputs, ("safety_check", f"node:{node.id}"))  # a visit, not a move
    reply = Reply(_t(d, s, d.system("safety_check")), buttons, kind="system")
    return StepResult(s, (reply,), ("safety_check",))


def _normalise(text: str) -> str:
    # Phones type a curly apostrophe ("don’t"): read it as the plain one the dialogues use.
    text = text.replace("\u2019", "'").replace("\u02bc", "'")
    kept = "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text)
    return " ".join(kept.split())


def _contains_phrase(words: str, phrase: str) -> bool:
    return f" {_normalise(phrase)} " in f" {words} "


def _visible_options(node: Node, s: Session) -> list[Option]:
    return [o for o in node.options if conditions_hold(o.conditions, s.variables)]


def _data_for(node: Node, option: Option) -> str:
    return callback_data(node.id, node.options.index(option), option_key(option))


def _goto(
    d: Dialogue,
    s: Session,
    node_id: str,
    ctx: Context,
    *,
    remember: bool = True,
    events: tuple[str, ...] = (),
) -> StepResult:
    node = d.nodes[node_id]
    history = s.history
    if remember and s.node and s.node != node_id:
        history = (*history, s.node)[-HISTORY_LIMIT:]
    s = replace(s, node=node_id, history=history, variables=freeze({**s.variables, **node.set}))
    return StepResult(s, tuple(_render_node(d, s, node, ctx)), (*events, f"node:{node_id}"))


def _redisplay(
    d: Dialogue, s: Session, ctx: Context, text: Text, events: tuple[str, ...] = ()
) -> StepResult:
    """A short system reply carrying the current node's buttons again."""
    node = d.nodes.get(s.node) if s.node else None
    if node is None:
        return _goto(d, s, d.entry["start"], ctx, remember=False, events=events)
    buttons = _buttons(d, s, node, ctx)
    reply = Reply(_t(d, s, text), buttons, kind="system")
    return StepResult(s, (reply,), events)


def _render_node(d: Dialogue, s: Session, node: Node, ctx: Context) -> list[Output]:
    out: list[Output] = []
    if node.note:
        out.append(Reply(_fill(d, s, node.note, ctx), kind="note"))
    for msg in node.messages:
        if not conditions_hold(msg.conditions, s.variables):
            continue
        # A message is words, signposts for the parent's region, or words then signposts.
        parts = [_fill(d, s, msg.text, ctx)] if msg.text is not None else []
        if msg.signposts:
            parts.append(_signposts(d, s, msg.signposts, ctx))
        text = "\n\n".join(p for p in parts if p)
        if not text:
            continue
        if out:
            out.append(Pause())
        out.append(Reply(text, kind="crisis" if node.id == d.entry.get("crisis") else "message"))
    buttons = _buttons(d, s, node, ctx)
    if buttons:
        last = out[-1] if out and isinstance(out[-1], Reply) and out[-1].kind != "note" else None
        if last is None:
            out.append(Reply(_t(d, s, d.system("choose")), buttons, kind="system"))
        else:
            out[-1] = replace(last, buttons=buttons)
    return out


def _buttons(d: Dialogue, s: Session, node: Node, ctx: Context) -> tuple[Button, ...]:
    lang = _lang(d, s)
    return tuple(
        Button(
            render(
                o.label.pick(lang, d.settings.default_language), _values(d, s, ctx), escape=False
            ),
            _data_for(node, o),
        )
        for o in _visible_options(node, s)
    )


def _signposts(d: Dialogue, s: Session, ids: tuple[str, ...], ctx: Context) -> str:
    region = str(s.variables.get("region") or d.settings.default_region)
    texts = [
        _fill(d, s, sp.text, ctx)
        for sp_id in ids
        if (sp := d.signposts.get(sp_id)) and sp.region in (region, "any")
    ]
    return "\n\n".join(texts)


def _lang(d: Dialogue, s: Session) -> str:
    # A language no longer offered (not reviewed, or dropped) falls back to the default.
    if s.language and s.language in d.settings.languages:
        return s.language
    return d.settings.default_language


def _t(d: Dialogue, s: Session, text: Text) -> str:
    return text.pick(_lang(d, s), d.settings.default_language)


def _values(d: Dialogue, s: Session, ctx: Context) -> dict:
    # Telegram names are at most 64 characters, and the validator measures messages with
    # that longest name; never let a longer one (from anywhere) push a message over 4096.
    return {**s.variables, "first_name": ctx.first_name[:64], "language": _lang(d, s)}


def _fill(d: Dialogue, s: Session, text: Text, ctx: Context) -> str:
    return render(_t(d, s, text), _values(d, s, ctx))
