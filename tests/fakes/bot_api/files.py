"""The stand-in for files: uploads (sendDocument, sendPhoto), getFile and downloads."""

from __future__ import annotations

from aiohttp import web

from .common import (
    BotApiError,
    Call,
    JSONDict,
    Store,
    UploadedFile,
    _inline_markup,
    bad_request,
    error_response,
    require,
)
from .messages import Messages


class Files:
    def __init__(self, store: Store, messages: Messages, token: str) -> None:
        self.store = store
        self.messages = messages
        self.token = token
        self.uploads: dict[str, UploadedFile] = {}

    def file_for(self, call: Call, field_name: str) -> tuple[UploadedFile | None, str]:
        """The uploaded file for ``field_name`` (direct or via attach://) or a file_id/URL."""
        value = call.params.get(field_name)
        upload = call.files.get(field_name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
        if upload is None:
            if not value:
                raise bad_request(f"there is no {field_name} in the request")
            return None, str(value)
        n = self.store.new_id()
        upload.file_id = f"BQACAgFAKE-{field_name}-{n}"
        self.uploads[upload.file_id] = upload
        return upload, upload.file_id

    def caption(self, call: Call) -> str | None:
        caption = call.params.get("caption")
        if caption is not None:
            self.messages.visible_text(
                caption,
                call.params.get("parse_mode"),
                what="message caption",
                limit=self.messages.max_caption_length,
            )
        return caption

    def send_document(self, call: Call) -> JSONDict:
        require(call, "chat_id")
        upload, file_id = self.file_for(call, "document")
        caption = self.caption(call)
        self.messages.check_markup(call.params.get("reply_markup"))
        document: JSONDict = {"file_id": file_id, "file_unique_id": f"AgAD{file_id[-12:]}"}
        if upload is not None:
            document.update(
                file_name=upload.filename,
                mime_type=upload.content_type or "application/octet-stream",
                file_size=upload.size,
            )
        return self.store.bot_message(
            call.params["chat_id"],
            document=document,
            caption=caption,
            reply_markup=_inline_markup(call.params.get("reply_markup")),
        )

    def send_photo(self, call: Call) -> JSONDict:
        require(call, "chat_id")
        upload, file_id = self.file_for(call, "photo")
        caption = self.caption(call)
        self.messages.check_markup(call.params.get("reply_markup"))
        size = upload.size if upload is not None else 50_000
        photo = [
            {
                "file_id": f"{file_id}-{width}",
                "file_unique_id": f"AQAD{file_id[-10:]}{width}",
                "width": width,
                "height": width * 3 // 4,
                "file_size": size * width // 1280,
            }
            for width in (90, 320, 1280)
        ]
        return self.store.bot_message(
            call.params["chat_id"],
            photo=photo,
            caption=caption,
            reply_markup=_inline_markup(call.params.get("reply_markup")),
        )

    def get_file(self, call: Call) -> JSONDict:
        file_id = str(call.params.get("file_id") or "")
        upload = self.uploads.get(file_id)
        if upload is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-12:]}",
            "file_size": upload.size,
            "file_path": f"documents/{file_id}",
        }

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return error_response(BotApiError(401, "Unauthorized"))
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        upload = self.uploads.get(file_id)
        if upload is None:
            return error_response(BotApiError(404, "Not Found"))
        return web.Response(
            body=upload.data, content_type=upload.content_type or "application/octet-stream"
        )
