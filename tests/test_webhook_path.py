"""Webhook mode listens on the path of telegram.webhook.url, so a reverse proxy can pass
requests through unchanged; the path the docs' proxy example uses works end to end."""

from __future__ import annotations

import os
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


async def test_the_nginx_example_carries_updates_to_the_bot(tmp_path, unused_tcp_port_factory):
    """deploy/nginx-webhook.conf as written, with only its TLS files and ports swapped for
    test ones (other test runs may share this machine), in front of the bot in webhook mode
    with the config it quotes."""
    import asyncio
    import shutil
    import ssl
    import subprocess

    import aiohttp
    import pytest

    if not (shutil.which("nginx") and shutil.which("openssl")):
        # .ci/run installs both, so CI always runs this test.
        assert not os.environ.get("CI"), "CI must have nginx and openssl (.ci/run installs them)"
        pytest.skip("nginx or openssl is not installed here; the path tests above still ran")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem", "-subj", "/CN=bot"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    outside = unused_tcp_port_factory()
    example = (ROOT / "deploy" / "nginx-webhook.conf").read_text()
    port = unused_tcp_port_factory()
    example = re.sub(
        r"proxy_pass http://127\.0\.0\.1:\d+;", f"proxy_pass http://127.0.0.1:{port};", example
    )
    url = re.search(r"url: (https://\S+)", example).group(1)
    path = re.search(r"location (/\S+)", example).group(1)
    server = (
        example.replace("listen 443 ssl;", f"listen 127.0.0.1:{outside} ssl;")
        .replace("/etc/letsencrypt/live/bot.example.org/fullchain.pem", str(tmp_path / "cert.pem"))
        .replace("/etc/letsencrypt/live/bot.example.org/privkey.pem", str(tmp_path / "key.pem"))
    )
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off;\n{server}\n}}\n"
    )
    nginx = subprocess.Popen(["nginx", "-c", tmp_path / "nginx.conf", "-p", tmp_path])
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    try:
        async with FakeBotApi() as fake:
            webhook = WebhookConfig(listen="127.0.0.1", port=port, url=url, secret_token="s3cret")
            async with Harness(fake, make_config(fake, mode="webhook", webhook=webhook)):
                update = {**fake.make_text_update(PARENT, "/start"), "update_id": 1}
                async with aiohttp.ClientSession() as http:
                    statuses = []
                    for secret in ("wrong", "s3cret"):
                        for _ in range(50):  # nginx may take a moment to listen
                            try:
                                async with http.post(
                                    f"https://127.0.0.1:{outside}{path}",
                                    json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                                    ssl=tls,
                                ) as response:
                                    statuses.append(response.status)
                                    break
                            except aiohttp.ClientConnectorError:
                                await asyncio.sleep(0.1)
                assert statuses == [403, 200]
                await fake.wait_for_messages(PARENT, 3)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
