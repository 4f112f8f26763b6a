"""Webhook mode listens on the path of telegram.webhook.url, so a reverse proxy can pass
requests through unchanged; the path the docs' proxy example uses works end to end."""

from __future__ import annotations

import re

from bot.service.config import WebhookConfig
from bot.service.run import webhook_path
from tests.conftest import ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.service_harness import Harness, make_config

PARENT = 5150


def test_the_local_path_is_the_urls_path() -> None:
    assert webhook_path("https://bot.example.org/babyloss/telegram") == "babyloss/telegram"
    assert webhook_path("https://bot.example.org/telegram/") == "telegram"
    assert webhook_path("https://bot.example.org") == ""


async def test_webhook_serves_on_the_urls_path_and_nowhere_else(unused_tcp_port) -> None:
    async with FakeBotApi() as fake:
        webhook = WebhookConfig(
            listen="127.0.0.1",
            port=unused_tcp_port,
            url="https://bot.example.org/hooks/babyloss",
            secret_token="s3cret",
        )
        config = make_config(fake, mode="webhook", webhook=webhook)
        async with Harness(fake, config):
            base = f"http://127.0.0.1:{unused_tcp_port}"
            update = {**fake.make_text_update(PARENT, "/start"), "update_id": 1}
            assert await fake.post_webhook(f"{base}/telegram", update, "s3cret") == 404
            assert await fake.post_webhook(f"{base}/hooks/babyloss", update, "s3cret") == 200
            await fake.wait_for_messages(PARENT, 3)


def test_the_proxy_example_forwards_to_the_configs_path_and_port() -> None:
    example = (ROOT / "deploy" / "nginx-webhook.conf").read_text()
    port = re.search(r"proxy_pass http://127\.0\.0\.1:(\d+)", example)
    location = re.search(r"location (/\S+)", example)
    assert port and location
    config = (ROOT / "config.example.yaml").read_text()
    assert f"port: {port.group(1)}" in config
    assert "deploy/nginx-webhook.conf" in config
    # proxy_pass without a path passes the request's path through unchanged
    assert re.search(r"proxy_pass http://127\.0\.0\.1:\d+;", example)
    assert "X-Telegram-Bot-Api-Secret-Token" not in example  # passed through, not replaced
