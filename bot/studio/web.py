"""The studio's web application (aiohttp): the page, its static files and a JSON API.

Every /api/ request but login needs a session (else 401); every request that changes
something also needs the session's CSRF token in the X-CSRF-Token header (else 403) and,
when the browser sends one, an Origin of this server. Paths outside the dialogue folder
are 404. Saves and publishes are logged with who and when, and nothing else.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.studio import accounts
from bot.studio.files import NotFound, atomic_write, content_version, safe_path
from bot.studio.project import Project
from bot.studio.publish import Publisher, PublishError

log = logging.getLogger("babyloss.studio")
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "studio_session"
MAX_FILE = 2 * 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class StudioSettings:
    folder: Path  # the folder the studio edits (the draft, beside the live bot)
    mode: str = "local"  # local (a volunteer's laptop) or live (beside the bot)
    accounts_file: Path | None = None  # live mode
    local_token: str = ""  # local mode: the secret in the link the studio opens
    local_user: str = "volunteer"
    secure_cookies: bool = False
    session_minutes: float = 60.0
    publisher: Publisher | None = None


KEY_SETTINGS = web.AppKey("settings", StudioSettings)
KEY_PROJECT = web.AppKey("project", Project)
KEY_SESSIONS = web.AppKey("sessions", accounts.Sessions)
KEY_LIMITER = web.AppKey("limiter", accounts.LoginLimiter)
KEY_LOCK = web.AppKey("lock", asyncio.Lock)


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def security(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        for key, value in SECURITY_HEADERS.items():
            exc.headers.setdefault(key, value)
        raise
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def _session(request: web.Request):
    return request.app[KEY_SESSIONS].get(request.cookies.get(COOKIE))


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == request.host


def api(change: bool = False):
    """Wrap an API handler: session required; for changes also CSRF and same origin."""

    def wrap(handler):
        async def inner(request: web.Request) -> web.StreamResponse:
            session = _session(request)
            if session is None:
                return _json_error(401, "Please sign in.")
            if change:
                token = request.headers.get("X-CSRF-Token", "")
                if not hmac.compare_digest(token, session.csrf) or not _same_origin(request):
                    return _json_error(403, "This request was not sent by the studio page.")
            return await handler(request, session)

        return inner

    return wrap


async def _body(request: web.Request) -> dict:
    if request.content_length and request.content_length > MAX_FILE * 2:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FILE * 2, actual_size=0)
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return data


def _path(request: web.Request, rel: object, *, must_exist: bool = True) -> tuple[str, Path]:
    if not isinstance(rel, str):
        raise web.HTTPNotFound()
    try:
        return rel, safe_path(request.app[KEY_SETTINGS].folder, rel, must_exist=must_exist)
    except NotFound:
        raise web.HTTPNotFound(
            text='{"error": "No such file in the dialogue folder."}',
            content_type="application/json",
        ) from None


# -- Pages ----------------------------------------------------------------------------
async def index(request: web.Request) -> web.StreamResponse:
    if _session(request) is None:
        raise web.HTTPFound("/login")
    return web.FileResponse(STATIC / "studio.html")


async def login_page(request: web.Request) -> web.StreamResponse:
    settings = request.app[KEY_SETTINGS]
    token = request.query.get("token")
    if settings.mode == "local" and token:
        if not hmac.compare_digest(token, settings.local_token):
            return web.Response(
                status=403, text="This link is out of date: start the studio again."
            )
        response = web.HTTPFound("/")
        _start_session(request, response, settings.local_user)
        raise response
    return web.FileResponse(STATIC / "login.html")


def _start_session(request: web.Request, response: web.StreamResponse, user: str) -> str:
    settings = request.app[KEY_SETTINGS]
    sid, session = request.app[KEY_SESSIONS].create(user)
    response.set_cookie(
        COOKIE,
        sid,
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookies,
        path="/",
        max_age=int(request.app[KEY_SESSIONS].absolute),
    )
    return session.csrf


async def login(request: web.Request) -> web.StreamResponse:
    settings = request.app[KEY_SETTINGS]
    if settings.mode != "live" or settings.accounts_file is None:
        return _json_error(404, "Use the link the studio printed when it started.")
    if not _same_origin(request):
        return _json_error(403, "This request was not sent by the studio page.")
    data = await _body(request)
    user, password = str(data.get("user", "")), str(data.get("password", ""))
    limiter = request.app[KEY_LIMITER]
    keys = (f"user:{user.lower()}", f"addr:{request.remote}")
    if limiter.blocked(*keys):
        return _json_error(429, "Too many attempts. Wait five minutes and try again.")
    ok = await asyncio.to_thread(accounts.check_password, settings.accounts_file, user, password)
    if not ok:
        limiter.failed(*keys)
        log.info("studio: failed sign-in")
        return _json_error(401, "That name and password do not match an account.")
    limiter.succeeded(*keys)
    response = web.json_response({"ok": True})
    _start_session(request, response, user)
    log.info("studio: %s signed in", user)
    return response


@api(change=True)
async def logout(request: web.Request, session) -> web.StreamResponse:
    request.app[KEY_SESSIONS].end(request.cookies.get(COOKIE))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


# -- API --------------------------------------------------------------------------------
@api()
async def state(request: web.Request, session) -> web.StreamResponse:
    settings = request.app[KEY_SETTINGS]
    project = request.app[KEY_PROJECT]
    choices = await asyncio.to_thread(project.choices)
    return web.json_response(
        {
            "user": session.user,
            "csrf": session.csrf,
            "mode": settings.mode,
            "files": project.editable_files(),
            **choices,
        }
    )


@api()
async def read_file(request: web.Request, session) -> web.StreamResponse:
    rel, path = _path(request, request.query.get("path"))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _json_error(422, "This file is not UTF-8 text; open it in a text editor.")
    return web.json_response({"path": rel, "text": text, "version": content_version(data)})


@api(change=True)
async def save_file(request: web.Request, session) -> web.StreamResponse:
    data = await _body(request)
    rel, path = _path(request, data.get("path"), must_exist=not data.get("create"))
    text = data.get("text")
    if not isinstance(text, str) or len(text.encode("utf-8")) > MAX_FILE:
        return _json_error(400, "The text is missing or too long.")
    async with request.app[KEY_LOCK]:
        current = path.read_bytes() if path.exists() else None
        if data.get("create") and current is not None:
            return _json_error(409, "A file with this name exists already.")
        base = data.get("version")
        if current is not None and base != content_version(current) and not data.get("force"):
            return web.json_response(
                {
                    "error": "This file was changed on disk since you opened it.",
                    "conflict": True,
                    "disk_version": content_version(current),
                },
                status=409,
            )
        new = text.encode("utf-8")
        await asyncio.to_thread(atomic_write, path, new)
    log.info("studio: %s saved %s", session.user, rel)
    return web.json_response({"ok": True, "version": content_version(new)})


@api(change=True)
async def validate(request: web.Request, session) -> web.StreamResponse:
    data = await _body(request)
    rel = data.get("path")
    text = data.get("text")
    if rel is not None:
        rel, _ = _path(request, rel)
    if text is not None and not isinstance(text, str):
        return _json_error(400, "text should be a string")
    project = request.app[KEY_PROJECT]
    result = await asyncio.to_thread(project.validate, rel, text)
    return web.json_response(result)


@api(change=True)
async def play(request: web.Request, session) -> web.StreamResponse:
    data = await _body(request)
    overlay = {}
    if isinstance(data.get("path"), str) and isinstance(data.get("text"), str):
        rel, _ = _path(request, data["path"])
        overlay[rel] = data["text"]
    action = {k: data.get(k) for k in ("kind", "value", "language", "region", "first_name")}
    project = request.app[KEY_PROJECT]
    current = session.player or None
    new_state, reply = await asyncio.to_thread(project.play, current, action, overlay)
    session.player = new_state or {}
    return web.json_response(reply)


@api()
async def graph(request: web.Request, session) -> web.StreamResponse:
    return web.json_response(await asyncio.to_thread(request.app[KEY_PROJECT].graph))


@api(change=True)
async def tests(request: web.Request, session) -> web.StreamResponse:
    return web.json_response(await asyncio.to_thread(request.app[KEY_PROJECT].run_tests))


@api()
async def signposts(request: web.Request, session) -> web.StreamResponse:
    rows = await asyncio.to_thread(request.app[KEY_PROJECT].signposts)
    return web.json_response({"signposts": rows})


def _publisher(request: web.Request) -> Publisher:
    publisher = request.app[KEY_SETTINGS].publisher
    if publisher is None:
        raise web.HTTPNotFound(
            text='{"error": "Publishing happens beside the live bot, not on a laptop."}',
            content_type="application/json",
        )
    return publisher


@api()
async def versions(request: web.Request, session) -> web.StreamResponse:
    publisher = _publisher(request)
    return web.json_response({"versions": await asyncio.to_thread(publisher.list_versions)})


@api(change=True)
async def publish(request: web.Request, session) -> web.StreamResponse:
    publisher = _publisher(request)
    async with request.app[KEY_LOCK]:
        try:
            outcome = await asyncio.to_thread(publisher.publish, session.user)
        except PublishError as exc:
            log.error("studio: %s published, but the reload failed", session.user)
            return _json_error(500, str(exc))
    if outcome.ok and outcome.version:
        log.info(
            "studio: %s published version %s (%s)",
            session.user,
            outcome.version[:10],
            ", ".join(outcome.changed or []),
        )
    else:
        log.info(
            "studio: %s tried to publish; %s",
            session.user,
            "refused" if not outcome.ok else "nothing changed",
        )
    return web.json_response(outcome.to_json(), status=200 if outcome.ok else 422)


@api(change=True)
async def rollback(request: web.Request, session) -> web.StreamResponse:
    publisher = _publisher(request)
    data = await _body(request)
    version = str(data.get("version", ""))
    async with request.app[KEY_LOCK]:
        try:
            outcome = await asyncio.to_thread(publisher.rollback, session.user, version)
        except PublishError as exc:
            return _json_error(500, str(exc))
    if outcome.ok:
        log.info("studio: %s rolled back to %s", session.user, version[:10])
    return web.json_response(outcome.to_json(), status=200 if outcome.ok else 404)


def build_app(settings: StudioSettings) -> web.Application:
    app = web.Application(middlewares=[security], client_max_size=MAX_FILE * 2 + 4096)
    app[KEY_SETTINGS] = settings
    app[KEY_PROJECT] = Project(settings.folder)
    app[KEY_SESSIONS] = accounts.Sessions(idle_seconds=settings.session_minutes * 60)
    app[KEY_LIMITER] = accounts.LoginLimiter()
    app[KEY_LOCK] = asyncio.Lock()
    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/file", read_file)
    app.router.add_put("/api/file", save_file)
    app.router.add_post("/api/validate", validate)
    app.router.add_post("/api/play", play)
    app.router.add_get("/api/graph", graph)
    app.router.add_post("/api/tests", tests)
    app.router.add_get("/api/signposts", signposts)
    app.router.add_get("/api/versions", versions)
    app.router.add_post("/api/publish", publish)
    app.router.add_post("/api/rollback", rollback)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app
