"""One typed settings object: every bad WATCHFLOOR_* value is one line, exit 2, for every command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.broker import free_port
from core.settings import ConfigError, Settings

WATCHFLOOR = str(Path(sys.executable).parent / "watchfloor")

# Every command that reads settings, with arguments it needs to get past argument parsing.
COMMANDS = [
    ["ingest", "--once"], ["process"], ["notify"], ["tail", "headlines.raw", "--no-follow"],
    ["silence", "list"], ["silence", "add", "--rule", "x", "--reason", "r"], ["rules", "backtest", "--rules", "rules/packs"],
    ["run"], ["topics", "plan"], ["topics", "apply"], ["console"], ["broker", "--port", "0"],
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATCHFLOOR, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)


@pytest.mark.parametrize("variable, value, allowed", [
    ("WATCHFLOOR_KAFKA_SECURITY_PROTOCOL", "TLS", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ("WATCHFLOOR_METRICS_PORT", "abc", "0-65535"),
    ("WATCHFLOOR_CONSOLE_PORT", "abc", "0-65535"),
])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_bad_setting_is_one_line_naming_it_for_every_command(command, variable, value, allowed):
    proc = run(command, clean_env(**{variable: value}, WATCHFLOOR_KAFKA_BOOTSTRAP="127.0.0.1:1"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {variable}='{value}'") and allowed in lines[0]
    assert "Traceback" not in proc.stderr


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"WATCHFLOOR_METRICS_PORT": "99999", "WATCHFLOOR_CREATE_TOPICS": "maybe",
                           "WATCHFLOOR_CONSOLE_PORT": "-1", "WATCHFLOOR_TOPIC_PREFIX": "has space"})
    lines = str(caught.value).splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "WATCHFLOOR_TOPIC_PREFIX", "WATCHFLOOR_CREATE_TOPICS", "WATCHFLOOR_METRICS_PORT", "WATCHFLOOR_CONSOLE_PORT"]
    assert "true or false" in lines[1] and "0-65535" in lines[3]


def test_values_are_typed_and_secrets_never_echoed(tmp_path):
    settings = Settings.from_env({"WATCHFLOOR_METRICS_PORT": " 0 ", "WATCHFLOOR_CREATE_TOPICS": "no",
                                  "WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "WATCHFLOOR_KAFKA_USERNAME": "bob",
                                  "WATCHFLOOR_KAFKA_PASSWORD": "hunter2", "WATCHFLOOR_CONSOLE_TOKEN": "s3cret",
                                  "WATCHFLOOR_DATA_DIR": str(tmp_path)})
    assert settings.metrics_port == 0 and settings.create_topics is False and settings.data_dir == tmp_path
    assert settings.security.protocol == "SASL_SSL" and settings.security.mechanism == "PLAIN"
    assert "hunter2" not in repr(settings) and "s3cret" not in repr(settings)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "WATCHFLOOR_KAFKA_USERNAME": "bob",
                           "WATCHFLOOR_KAFKA_PASSWORD": "hunter2", "WATCHFLOOR_KAFKA_SASL_MECHANISM": "GSSAPI"})
    assert "WATCHFLOOR_KAFKA_SASL_MECHANISM='GSSAPI'" in str(caught.value) and "hunter2" not in str(caught.value)


def test_help_works_with_bad_settings_and_shows_no_bool_placeholder():
    proc = run(["run", "--help"], clean_env(WATCHFLOOR_METRICS_PORT="abc"))
    assert proc.returncode == 0 and "--fresh" in proc.stdout
    assert "<bool>" not in proc.stdout
    for command in (["tail", "--help"], ["rules", "backtest", "--help"], ["silence", "list", "--help"]):
        out = run(command, clean_env()).stdout
        assert "--help" in out and "<bool>" not in out, command


def test_run_checks_the_feeds_file_before_starting_anything(tmp_path):
    started = time.monotonic()
    proc = run(["run", "--feeds", str(tmp_path / "missing.yaml")], clean_env(WATCHFLOOR_METRICS_PORT="0",
                                                                            WATCHFLOOR_DATA_DIR=str(tmp_path / "d")))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'missing.yaml'}: cannot read feeds file: No such file or directory"
    assert time.monotonic() - started < 15 and not (tmp_path / "d" / "broker").exists()  # no broker was started


def test_unreachable_broker_is_one_clean_line_with_clients_closed():
    bootstrap = f"127.0.0.1:{free_port()}"
    for command in (["silence", "list"], ["rules", "backtest", "--rules", "rules/packs"], ["tail", "headlines.raw", "--no-follow"]):
        proc = run(command, clean_env(WATCHFLOOR_KAFKA_BOOTSTRAP=bootstrap), timeout=120)
        assert proc.returncode == 2, (command, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and f"cannot reach Kafka at {bootstrap}" in errors[0], (command, proc.stderr)
        assert "KafkaConnectionError KafkaConnectionError" not in errors[0]
        assert "Unclosed" not in proc.stderr and "Traceback" not in proc.stderr, (command, proc.stderr)


def test_broker_on_a_busy_port_never_says_ready(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = run(["broker", "--port", str(port), "--data-dir", str(tmp_path / "b")], clean_env())
    assert proc.returncode != 0
    assert "ready" not in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (Address already in use): stop what holds it, "
        "or choose another with --port (0 picks a free one)"]
