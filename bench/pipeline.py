"""Throughput of the classifying stage: headlines/s raw -> classified for one worker with 1,000
rules, and the time from `watchfloor process` start to the first message processed.

Baseline, measured in the same run on the same broker and input: a plain aiokafka
consume-classify-produce loop with the same compiled matcher (batches, no faust, no dedup
table, offsets committed per batch). Run: `.venv/bin/python bench/pipeline.py [N]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402

from bench.classify import real_titles, synthetic_rules, vocabulary  # noqa: E402
from processors.classify import classify_headline, parse_raw  # noqa: E402
from rules.loader import load_rules  # noqa: E402
from core.broker import EmbeddedBroker  # noqa: E402
from core.contracts import RawHeadline  # noqa: E402
from core.topics import Topics, TopicSpec, ensure_topics  # noqa: E402


def bench_specs(topics: Topics, categories: list[str]) -> list[TopicSpec]:
    """The service's topics, but one partition per category topic: 1,000 rules are 1,000 topics,
    and 3,000 partitions would measure the single-node broker, not the worker."""
    return [TopicSpec(s.name, 1, s.retention_ms, s.compacted) if s.name.startswith(topics.prefix + ".category.") else s
            for s in topics.specs(categories)]


def make_rules(folder: Path, lines: list[str]) -> None:
    rules = synthetic_rules(1000, vocabulary(lines), random.Random(7))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True))


async def fill(bootstrap: str, topic: str, lines: list[str], n: int, run: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        now = datetime.now(timezone.utc)
        for i in range(n):
            h = RawHeadline(id=f"{run}-{i}", feed_id="bench", source="Bench", title=lines[i % len(lines)], fetched=now)
            await producer.send(topic, h.to_bytes(), key=h.id.encode())
        await producer.flush()
    finally:
        await producer.stop()


WARMUP = 0.2  # the first 20% fill metadata caches for 1,000 category topics; rates count the rest


async def watch(bootstrap: str, topic: str, n: int, started: float) -> tuple[int, float | None, float, float]:
    """Polls the topic's end offsets until n messages are there (or progress stops for 60 s);
    returns (count, time of the first message, time of the last change, steady-state rate)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        first, last_count, last_change = None, 0, time.perf_counter()
        warm: tuple[float, int] | None = None
        while True:
            c = sum((await consumer.end_offsets(tps)).values())
            now = time.perf_counter()
            if c and first is None:
                first = now
            if warm is None and c >= n * WARMUP:
                warm = (now, c)
            if c != last_count:
                last_count, last_change = c, now
            if c >= n or now - last_change > 60:
                rate = (last_count - warm[1]) / (last_change - warm[0]) if warm and last_change > warm[0] else 0.0
                return last_count, first, last_change, rate
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()


async def baseline(bootstrap: str, topics: Topics, rules_dir: Path, n: int) -> float:
    ruleset = load_rules(rules_dir)
    consumer = AIOKafkaConsumer(topics.raw, bootstrap_servers=bootstrap, group_id="bench-baseline",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    done = 0
    started = None
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=500)
            if started is None and done >= n * WARMUP:
                started, done_at_start = time.perf_counter(), done
            futures = []
            for records in batch.values():
                for r in records:
                    out = classify_headline(parse_raw(r.value), ruleset)
                    data = out.to_bytes()
                    futures.append(await producer.send(topics.classified, data, key=r.key))
                    for m in out.categories:
                        futures.append(await producer.send(topics.category(m.id), data, key=r.key))
                    done += 1
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
        return (done - done_at_start) / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    which = sys.argv[2] if len(sys.argv) > 2 else "synthetic"  # or "packs": the 9 shipped categories
    lines = real_titles()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if which == "packs":
            import shutil

            from rules.loader import DEFAULT_RULES

            shutil.copytree(DEFAULT_RULES, root / "rules")
        else:
            make_rules(root / "rules", lines)
        categories = load_rules(root / "rules").category_ids
        broker = EmbeddedBroker(root / "kafka", port=0)
        broker.start()
        try:
            bootstrap = broker.bootstrap
            # faust worker
            wf = Topics("wf")
            asyncio.run(ensure_topics(bootstrap, bench_specs(wf, categories)))
            asyncio.run(fill(bootstrap, wf.raw, lines, n, "wf"))
            env = {**os.environ, "WATCHFLOOR_KAFKA_BOOTSTRAP": bootstrap, "WATCHFLOOR_TOPIC_PREFIX": "wf",
                   "WATCHFLOOR_RULES": str(root / "rules"), "WATCHFLOOR_DATA_DIR": str(root / "data"),
                   "WATCHFLOOR_METRICS_PORT": "0"}
            log = open(root / "process.log", "w")
            t0 = time.perf_counter()
            proc = subprocess.Popen([str(Path(sys.executable).parent / "watchfloor"), "process"], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                last_count, first, end, wf_rate = asyncio.run(watch(bootstrap, wf.classified, n, t0))
            finally:
                proc.terminate()
                proc.wait(60)
            ready_s = (first - t0) if first else float("nan")
            # baseline loop
            bl = Topics("bl")
            asyncio.run(ensure_topics(bootstrap, bench_specs(bl, categories)))
            asyncio.run(fill(bootstrap, bl.raw, lines, n, "bl"))
            base_rate = asyncio.run(baseline(bootstrap, bl, root / "rules", n))
        finally:
            broker.stop()
    label = "the 9 shipped category rules" if which == "packs" else "1,000 synthetic rules (1,000 category topics)"
    print(f"{n} headlines, {label}, one worker on {os.cpu_count()} cores; rates after the first {WARMUP:.0%}")
    print(f"watchfloor process (faust): {wf_rate:8.0f} headlines/s raw -> classified ({last_count}/{n} done); "
          f"start -> first message processed {ready_s:.2f} s")
    print(f"baseline aiokafka loop:     {base_rate:8.0f} headlines/s; ratio {wf_rate / base_rate:.2f}x")
    print(json.dumps({"headlines": n, "rules": which, "faust_headlines_per_s": round(wf_rate), "baseline_headlines_per_s": round(base_rate),
                      "ratio": round(wf_rate / base_rate, 3), "start_to_first_message_s": round(ready_s, 2)}))


if __name__ == "__main__":
    main()
