"""`watchfloor topics plan | apply` against the real broker, and stages that refuse to create topics."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.conftest import BIN


def watchfloor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "watchfloor"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_plan_lists_every_topic_with_its_settings(cli_env, rules_dir, prefix):
    result = watchfloor({**cli_env, "WATCHFLOOR_RULES": str(rules_dir)}, "topics", "plan")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    raw = rows[f"{prefix}.headlines.raw"]
    assert raw[1:5] == ["6", "1", "7d", "delete"]  # the test broker has one node
    assert rows[f"{prefix}.ingest.seen"][4] == "compact,delete"
    assert {f"{prefix}.category.airstrike", f"{prefix}.category.diplomacy"} <= set(rows)  # one per category rule
    # the stages' own state and hand-off topics are planned like the rest (no library creates topics behind it)
    assert rows[f"{prefix}.alerting.state"][4] == "compact,delete"
    assert rows[f"{prefix}.processing.seen"][4] == "compact,delete"
    assert rows[f"{prefix}.alerting.work"][1] == raw[1]
    assert not [name for name in rows if "changelog" in name]


def test_apply_creates_what_is_missing_and_reports_drift_without_changing_it(cli_env, rules_dir, prefix, kafka):
    async def make_a_wrong_one() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(f"{prefix}.alerts", 1, 1, topic_configs={"retention.ms": "3600000"})])
        finally:
            await admin.close()

    asyncio.run(make_a_wrong_one())
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir)}
    first = watchfloor(env, "topics", "apply")
    assert first.returncode == 1, first.stderr
    assert f"created {prefix}.headlines.raw" in first.stdout
    assert f"drift: {prefix}.alerts: partitions is 1, the plan says 3" in first.stdout
    assert f"drift: {prefix}.alerts: retention.ms is 3600000, the plan says 7776000000" in first.stdout
    second = watchfloor(env, "topics", "apply")
    assert "created" not in second.stdout.replace("0 created", "")
    assert second.stdout.count("drift:") == 2  # unchanged: apply never alters an existing topic


def test_the_processor_topics_it_creates_match_the_plan(processor, cli_env, rules_dir, settings):
    """Nothing a running processor relies on is missing from the plan: after it ran, `apply`
    creates nothing and finds no drift."""
    from tests.kafka_helpers import headline, send, wait_for_messages

    asyncio.run(send(settings, headline(1, "Missile strike on Odesa")))
    asyncio.run(wait_for_messages(settings, f"{settings.topic_prefix}.headlines.classified", 1, timeout=60))
    result = watchfloor({**cli_env, "WATCHFLOOR_RULES": str(rules_dir)}, "topics", "apply")
    assert not [line for line in result.stdout.splitlines() if line.startswith(("created", "drift"))], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", [["ingest", "--once"], ["process"], ["alert"], ["notify"]])
def test_with_topic_creation_off_a_stage_names_the_missing_topic(cli_env, tmp_path, stage):
    env = {**cli_env, "WATCHFLOOR_CREATE_TOPICS": "false", "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    result = watchfloor(env, *stage)
    assert result.returncode == 2
    assert f"{cli_env['WATCHFLOOR_TOPIC_PREFIX']}.headlines.raw" in result.stderr
    assert "watchfloor topics apply" in result.stderr and "Traceback" not in result.stderr


def test_with_topic_creation_off_the_processor_runs_on_applied_topics(cli_env, rules_dir, tmp_path, settings):
    """After `topics apply` the processor starts and works without creating anything."""
    from tests.kafka_helpers import headline, send, wait_for_messages

    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir), "WATCHFLOOR_DATA_DIR": str(tmp_path)}
    assert watchfloor(env, "topics", "apply").returncode == 0
    proc = subprocess.Popen([str(BIN / "watchfloor"), "process"], env={**env, "WATCHFLOOR_CREATE_TOPICS": "false"},
                            stdout=open(tmp_path / "process.log", "w"), stderr=subprocess.STDOUT)
    try:
        asyncio.run(send(settings, headline(1, "Missile strike on Odesa")))
        asyncio.run(wait_for_messages(settings, f"{settings.topic_prefix}.category.airstrike", 1, timeout=60))
    finally:
        proc.terminate()
        proc.wait(30)
