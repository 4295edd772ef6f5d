"""Every stage over SASL_SSL against a real broker: a throwaway CA and certificate, SCRAM users
added when the storage is formatted, the pipeline end to end (feed → alert on a webhook), and a
wrong password that ends the command with one clear line naming the setting."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.tls_helpers import make_ca_and_server
from core.broker import EmbeddedBroker, SaslSslListener, free_port
from core.kafka import make_consumer, read_to_end
from core.security import KafkaSecurity
from core.settings import Settings
from core.topics import Topics

PASSWORD = "s3cr3t-Pa55-for-alice"


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("secure-kafka")
    ca, keystore = make_ca_and_server(folder / "tls")
    listener = SaslSslListener(port=free_port(), keystore_pem=keystore, users={"alice": PASSWORD})
    broker = EmbeddedBroker(folder / "broker", port=0, sasl_ssl=listener)
    broker.start()
    try:
        yield {"bootstrap": f"127.0.0.1:{listener.port}", "ca": ca}
    finally:
        broker.stop()


def secure_env(secure_kafka: dict, prefix: str, mechanism: str = "SCRAM-SHA-512", password: str = PASSWORD,
               password_file: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env.update(WATCHFLOOR_KAFKA_BOOTSTRAP=secure_kafka["bootstrap"], WATCHFLOOR_TOPIC_PREFIX=prefix,
               WATCHFLOOR_KAFKA_SECURITY_PROTOCOL="SASL_SSL", WATCHFLOOR_KAFKA_SASL_MECHANISM=mechanism,
               WATCHFLOOR_KAFKA_USERNAME="alice", WATCHFLOOR_KAFKA_CA_FILE=str(secure_kafka["ca"]),
               WATCHFLOOR_METRICS_PORT="0", WATCHFLOOR_CONSOLE_PORT="0")
    if password_file:
        env["WATCHFLOOR_KAFKA_PASSWORD_FILE"] = str(password_file)
    else:
        env["WATCHFLOOR_KAFKA_PASSWORD"] = password
    return env


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Secure Wire</title>
<item><title>Missile strike on Kharkiv injures 12</title><link>https://secure.example/1</link><guid>s1</guid></item>
<item><title>Cup final tonight</title><link>https://secure.example/2</link><guid>s2</guid></item>
</channel></rss>"""
RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile strike*"]}
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    notify: [ops]
"""


def test_the_pipeline_runs_end_to_end_over_sasl_ssl(secure_kafka, prefix, tmp_path, feed_server, hook_server):
    feed_server.expect_request("/secure.xml").respond_with_data(FEED, content_type="application/rss+xml")
    received: list[dict] = []

    def hook(request):  # type: ignore[no-untyped-def]
        from werkzeug import Response

        received.append(request.get_json())
        return Response("ok")

    hook_server.expect_request("/hook", method="POST").respond_with_handler(hook)
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - id: secure\n    url: {feed_server.url_for('/secure.xml')}\n    interval: 2\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    (tmp_path / "apprise.txt").write_text(f"ops=json://127.0.0.1:{hook_server.port}/hook\n")
    (tmp_path / "password").write_text(PASSWORD + "\n")
    env = {**secure_env(secure_kafka, prefix, password_file=tmp_path / "password"),
           "WATCHFLOOR_FEEDS": str(tmp_path / "feeds.yaml"), "WATCHFLOOR_RULES": str(tmp_path / "rules"),
           "WATCHFLOOR_APPRISE_CONFIG": str(tmp_path / "apprise.txt"), "WATCHFLOOR_DATA_DIR": str(tmp_path / "data")}
    stages = []
    logs = {}
    try:
        for stage in ("ingest", "process", "alert", "notify"):
            logs[stage] = tmp_path / f"{stage}.log"
            stages.append(subprocess.Popen([str(BIN / "watchfloor"), stage], env=env, stdout=open(logs[stage], "w"),
                                           stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 90
        while not received and time.monotonic() < deadline:
            assert all(p.poll() is None for p in stages), {s: l.read_text()[-2000:] for s, l in logs.items()}
            time.sleep(0.5)
        assert received, {s: l.read_text()[-2000:] for s, l in logs.items()}
        assert "Missile strike on Kharkiv injures 12" in json.dumps(received[0])
        settings = Settings.from_env(env)
        classified = asyncio.run(read_to_end(settings, Topics(prefix).classified))
        assert sorted(json.loads(v)["title"] for _, v in classified) == ["Cup final tonight", "Missile strike on Kharkiv injures 12"]
    finally:
        for p in stages:
            p.send_signal(signal.SIGTERM)
        for p in stages:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    for stage, log in logs.items():
        assert PASSWORD not in log.read_text(), f"the password leaked into the {stage} log"


@pytest.mark.parametrize("command", [["ingest", "--once"], ["process"], ["alert"], ["notify"], ["tail", "headlines.raw", "--no-follow"]])
def test_a_wrong_password_fails_fast_with_a_clear_message(secure_kafka, prefix, tmp_path, command):
    env = {**secure_env(secure_kafka, prefix, password="not-the-password"), "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "watchfloor"), *command], env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode != 0
    assert time.monotonic() - started < 60
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "WATCHFLOOR_KAFKA_PASSWORD" in proc.stderr and "alice" in proc.stderr, proc.stderr[-2000:]
    assert "not-the-password" not in proc.stderr + proc.stdout


def test_plain_and_scram_256_work_and_a_missing_ca_is_named(secure_kafka, prefix):
    for mechanism in ("PLAIN", "SCRAM-SHA-256"):
        settings = Settings.from_env(secure_env(secure_kafka, prefix, mechanism=mechanism))

        async def connect() -> set[str]:
            consumer = make_consumer(settings, group_id=None)
            await consumer.start()
            try:
                return await consumer.topics()
            finally:
                await consumer.stop()

        assert isinstance(asyncio.run(connect()), set)
    env = secure_env(secure_kafka, prefix)
    env.pop("WATCHFLOOR_KAFKA_CA_FILE")  # the system's CAs do not know the test CA
    proc = subprocess.run([str(BIN / "watchfloor"), "tail", "headlines.raw", "--no-follow"], env=env,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode != 0 and "WATCHFLOOR_KAFKA_CA_FILE" in proc.stderr, proc.stderr[-2000:]


def test_security_settings_are_checked_and_the_password_never_shown():
    security = KafkaSecurity.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "WATCHFLOOR_KAFKA_USERNAME": "bob",
                                       "WATCHFLOOR_KAFKA_PASSWORD": "hunter2"})
    assert security.mechanism == "PLAIN" and "hunter2" not in repr(security) and "hunter2" not in security.describe()
    from core.settings import ConfigError

    with pytest.raises(ConfigError, match="WATCHFLOOR_KAFKA_USERNAME"):
        KafkaSecurity.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ConfigError, match="WATCHFLOOR_KAFKA_SASL_MECHANISM"):
        KafkaSecurity.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "WATCHFLOOR_KAFKA_SASL_MECHANISM": "GSSAPI",
                                "WATCHFLOOR_KAFKA_USERNAME": "a", "WATCHFLOOR_KAFKA_PASSWORD": "b"})
    with pytest.raises(ConfigError, match="WATCHFLOOR_KAFKA_SECURITY_PROTOCOL"):
        KafkaSecurity.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "TLS"})
    with pytest.raises(ConfigError, match="WATCHFLOOR_KAFKA_CA_FILE"):
        KafkaSecurity.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "SSL", "WATCHFLOOR_KAFKA_CA_FILE": "/nonexistent.pem"})
    assert "hunter2" not in repr(Settings(kafka_security_protocol="SASL_SSL", kafka_username="bob", kafka_password="hunter2"))
