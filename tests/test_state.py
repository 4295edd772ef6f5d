"""core/state.py on the real broker: what a loaded CompactedState holds, and what it writes."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiokafka import AIOKafkaProducer

from core.contracts import Silence
from core.kafka import make_producer, read_to_end
from core.settings import Settings
from core.state import CompactedState
from core.topics import DAY_MS, TopicSpec, Topics, ensure_topics
from tests.conftest import ROOT


def text_state(settings: Settings, topic: str, **options) -> CompactedState[str]:
    return CompactedState(settings, topic, encode=str.encode, decode=lambda raw: raw.decode(), **options)


async def compacted_topic(settings: Settings, name: str, partitions: int = 3) -> str:
    topic = f"{settings.topic_prefix}.{name}"
    await ensure_topics(settings, [TopicSpec(topic, partitions, 30 * DAY_MS, compacted=True)])
    return topic


@pytest.fixture
async def producer(settings):
    producer = make_producer(settings)
    await producer.start()
    yield producer
    await producer.stop()


async def send(producer: AIOKafkaProducer, topic: str, key: str, value: bytes | None, partition: int = 0, **kw) -> None:
    await producer.send_and_wait(topic, value, key=key.encode(), partition=partition, **kw)


async def test_later_records_win_and_tombstones_delete(settings, producer):
    topic = await compacted_topic(settings, "s.later")
    for key, value in [("a", b"1"), ("b", b"1"), ("a", b"2"), ("b", None), ("c", b"3")]:
        await send(producer, topic, key, value)
    state = text_state(settings, topic)
    assert await state.load() == 2
    assert dict(state.items()) == {"a": "2", "c": "3"}
    assert "b" not in state and state.get("b") is None


async def test_load_per_partition_and_drop(settings, producer):
    topic = await compacted_topic(settings, "s.parts")
    for p in range(3):
        await send(producer, topic, f"k{p}", b"v", partition=p)
    state = text_state(settings, topic)
    assert await state.load([0, 1]) == 2
    assert sorted(k for k, _ in state.items()) == ["k0", "k1"]
    state.drop([0])
    assert sorted(k for k, _ in state.items()) == ["k1"]
    assert await state.load([2]) == 1 and state.partition_of("k2") == 2

    # Without a partition the key goes where the producer's default partitioner would put it, known before the ack.
    sent = [await state.put(producer, f"new{i}", "x") for i in range(12)]
    acked = {f"new{i}": (await f).partition for i, f in enumerate(sent)}
    assert {k: state.partition_of(k) for k in acked} == acked and len(set(acked.values())) > 1
    state.drop([acked["new0"]])
    assert "new0" not in state and all(k in state for k, p in acked.items() if p != acked["new0"])


async def test_expired_entries_are_not_loaded_and_expire_tombstones_them(settings, producer):
    topic = await compacted_topic(settings, "s.ttl")
    now = time.time()
    for partition, (key, age) in enumerate([("old", 7200), ("soon", 3500), ("fresh", 0)]):
        await send(producer, topic, key, json.dumps({"at": now - age}).encode(), partition=partition)

    def stamped(**ttl):
        return CompactedState(settings, topic, encode=lambda v: json.dumps(v).encode(), decode=json.loads,
                              stamp=lambda v: v["at"], **ttl)

    state = stamped(ttl=3600)
    assert await state.load() == 2
    assert sorted(k for k, _ in state.items()) == ["fresh", "soon"]

    later = now + 200
    assert sorted(state.expired(later)) == ["old", "soon"]
    assert await state.expire(producer, later) == 2
    assert sorted(k for k, _ in state.items()) == ["fresh"] and state.expired(later) == []

    unexpiring = stamped()  # no ttl: sees whatever the topic still holds
    await unexpiring.load()
    assert sorted(k for k, _ in unexpiring.items()) == ["fresh"]
    assert {k.decode() for k, v in await read_to_end(settings, topic) if v is None} == {"old", "soon"}


async def test_without_a_stamp_the_ttl_counts_from_the_kafka_timestamp(settings, producer):
    topic = await compacted_topic(settings, "s.ktime", partitions=1)
    await send(producer, topic, "old", b"x", timestamp_ms=int((time.time() - 7200) * 1000))
    await send(producer, topic, "new", b"x")
    state = text_state(settings, topic, ttl=3600)
    assert await state.load() == 1 and "new" in state and "old" not in state
    assert state.expired() == ["old"]


async def test_only_committed_transactions_are_loaded(settings, prefix):
    topic = await compacted_topic(settings, "s.tx", partitions=1)
    writer = text_state(settings, topic)
    await writer.load()
    tx = make_producer(settings, transactional_id=f"{prefix}-tx")
    await tx.start()
    try:
        for key, value, commit in [("a", "1", True), ("a", "aborted", False), ("b", "aborted", False)]:
            await tx.begin_transaction()
            t, p, k, v = writer.apply(key, value)
            await tx.send_and_wait(t, v, key=k, partition=p)
            await (tx.commit_transaction() if commit else tx.abort_transaction())
        state = text_state(settings, topic)
        assert await state.load() == 1 and dict(state.items()) == {"a": "1"}

        await tx.begin_transaction()  # an open transaction: the load stops before it instead of waiting
        await tx.send_and_wait(topic, b"open", key=b"c", partition=0)
        fresh = text_state(settings, topic)
        assert await asyncio.wait_for(fresh.load(), 30) == 1 and "c" not in fresh
        await tx.commit_transaction()
        assert await fresh.load() == 2 and fresh.get("c") == "open"
    finally:
        await tx.stop()


async def test_an_undecodable_value_is_skipped_counted_and_logged(settings, producer, caplog):
    topic = await compacted_topic(settings, "s.bad", partitions=1)
    await send(producer, topic, "good", b'{"n": 1}')
    await send(producer, topic, "bad", b"not json")
    state = CompactedState(settings, topic, encode=lambda v: json.dumps(v).encode(), decode=json.loads)
    with caplog.at_level(logging.ERROR, logger="watchfloor.state"):
        assert await state.load() == 1
    assert dict(state.items()) == {"good": {"n": 1}} and state.undecodable == 1
    [message] = [r.getMessage() for r in caplog.records if r.name == "watchfloor.state"]
    assert "partition 0 offset 1" in message


async def test_follow_sees_records_written_after_the_load(settings, producer):
    topic = await compacted_topic(settings, "s.follow", partitions=2)
    await send(producer, topic, "before", b"1")
    seen: list[tuple[str, str | None]] = []
    stop = asyncio.Event()
    following = asyncio.ensure_future(text_state(settings, topic).follow(lambda k, v: seen.append((k, v)), stop))
    await asyncio.sleep(3)
    await send(producer, topic, "after", b"2", partition=1)
    await send(producer, topic, "before", None)
    for _ in range(100):
        if len(seen) == 3:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(following, 10)
    assert seen == [("before", "1"), ("after", "2"), ("before", None)]


def test_a_failed_start_closes_the_clients():
    script = (
        "import asyncio, gc\n"
        "from core.broker import free_port\n"
        "from core.settings import Settings\n"
        "from core.state import CompactedState\n"
        "s = CompactedState(Settings(bootstrap=f'127.0.0.1:{free_port()}'), 'x.state', encode=str.encode, decode=bytes.decode)\n"
        "async def main():\n"
        "    try:\n"
        "        await s.load()\n"
        "    except Exception as exc:\n"
        "        print('failed:', type(exc).__name__)\n"
        "    gc.collect()\n"
        "    await asyncio.sleep(0.1)\n"
        "asyncio.run(main())\n"
        "gc.collect()\n"
    )
    proc = subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", script], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "failed: KafkaConnectionError", proc.stderr
    assert "Unclosed" not in proc.stderr, proc.stderr


# --- the stores migrated onto it -----------------------------------------------------------------


async def test_delivery_records_older_than_the_retention_are_tombstoned_on_load(settings, producer):
    from notifiers.delivery_log import DeliveryLog

    topic = Topics(settings.topic_prefix).deliveries
    await ensure_topics(settings, [s for s in Topics(settings.topic_prefix).specs() if s.name == topic])
    ago = lambda days: (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()  # noqa: E731
    await send(producer, topic, "old:ch", json.dumps({"delivered": ago(31)}).encode())
    await send(producer, topic, "new:ch", json.dumps({"delivered": ago(29)}).encode())
    log = DeliveryLog(settings, topic, producer)
    assert await log.load() == 1 and "new:ch" in log and "old:ch" not in log
    assert [k for k, v in await read_to_end(settings, topic) if v is None] == [b"old:ch"]


async def test_silences_expired_over_a_day_ago_are_tombstoned_when_one_is_added(settings, producer):
    from alerting.silences import add_silence, expire_silence, list_silences

    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, [s for s in topics.specs() if s.name == topics.silences])
    now = datetime.now(timezone.utc)
    for sid, ended in [("longgone", timedelta(days=2)), ("recent", timedelta(hours=1))]:
        old = Silence(id=sid, match=["x"], reason="r", created=now - ended - timedelta(hours=2), expires=now - ended)
        await send(producer, topics.silences, sid, old.to_bytes())
    assert [s.id for s in await list_silences(settings, include_expired=True)] == ["recent"]
    added = await add_silence(settings, None, ["Kherson"], timedelta(hours=2), "drill")
    assert [k for k, v in await read_to_end(settings, topics.silences) if v is None] == [b"longgone"]
    assert [s.id for s in await list_silences(settings)] == [added.id]
    await expire_silence(settings, added.id)
    assert await list_silences(settings) == []
    assert [s.id for s in await list_silences(settings, include_expired=True)] == ["recent", added.id]
