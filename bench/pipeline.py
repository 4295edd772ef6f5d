"""Throughput of the classify stage: headlines/s raw -> classified for one `watchfloor process`
worker, and the time from its start to the first message processed.

Baseline, measured in the same run on the same broker and input: a plain aiokafka
consume-classify-produce loop with the same compiled matcher (batches, no transactions, no
dedup state, no alert hand-off, offsets committed per batch).

Ceiling, same run: that loop copying each raw message to the classified topic unclassified.

Run: `.venv/bin/python bench/pipeline.py [N] [synthetic|packs] [news|conflict]`
- news: everyday headlines (../shared/data), few of them alert-relevant;
- conflict: headlines from 200 feeds, most of them about strikes, sabotage or talks, so most
  concern an alert rule (each one is also handed to the alerting stage).
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
from aiokafka.errors import KafkaError  # noqa: E402

from bench.classify import real_titles, synthetic_rules, vocabulary  # noqa: E402
from bench.latency import cpu_seconds  # noqa: E402
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


def conflict_titles(rng: random.Random) -> list[str]:
    """Conflict headlines from the written set, varied by place and number so that most are
    distinct stories: the stream a watch floor sees on a heavy night."""
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "labelled.jsonl").read_text().splitlines() if line.strip()]
    alerting = [r["title"] for r in rows if set(r.get("labels", [])) & {"airstrike", "sabotage", "diplomacy", "maritime_espionage"}]
    places = ["Kharkiv", "Odesa", "Dnipro", "Sumy", "Kherson", "Zaporizhzhia", "Lviv", "Gdansk", "Riga", "Tallinn", "Klaipeda"]
    return [f"{rng.choice(alerting)} near {rng.choice(places)} ({rng.randint(1, 99)})" for _ in range(5000)]


async def fill(bootstrap: str, topic: str, lines: list[str], n: int, run: str, feeds: int = 1) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        now = datetime.now(timezone.utc)
        for i in range(n):
            feed = f"feed-{i % feeds:03d}"
            h = RawHeadline(id=f"{run}-{i}", feed_id=feed, source=feed, title=lines[i % len(lines)], fetched=now)
            await producer.send(topic, h.to_bytes(), key=h.id.encode())
        await producer.flush()
    finally:
        await producer.stop()


WARMUP = 0.2  # the first 20% fill metadata caches for 1,000 category topics; rates count the rest


def cpu_now(pids: dict[str, int | None]) -> dict[str, float | None]:
    """CPU seconds each named process has used so far."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_per_headline(before: dict[str, float | None], after: dict[str, float | None], count: int) -> dict[str, float]:
    """Microseconds of CPU each process spent per headline between two readings: what a worker
    and the broker each cost at this rate, against the 2 cores' budget (2e6 / rate µs)."""
    return {name: round((after[name] - before[name]) * 1e6 / count, 1)
            for name in before if count and before[name] is not None and after.get(name) is not None}


async def watch(bootstrap: str, raw_topic: str, group: str, n: int,
                pids: dict[str, int | None] | None = None) -> tuple[int, float | None, float, float, dict[str, float]]:
    """Polls the group's committed offsets on the raw topic (what the stage has committed as done,
    outputs included; output offsets would also count transaction markers) until n are done or
    progress stops for 60 s; returns (count, time of the first commit, time of the last, rate,
    CPU µs per headline of each of `pids` over the measured part)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        first, last_count, last_change = None, 0, time.perf_counter()
        warm: tuple[float, int] | None = None
        pids = pids or {}
        cpu_warm: dict[str, float | None] = {}
        cpu_last: dict[str, float | None] = {}
        while True:
            try:
                offsets = await admin.list_consumer_group_offsets(group)
            except KafkaError:  # the group does not exist yet: the worker is starting
                await asyncio.sleep(0.1)
                continue
            c = sum(meta.offset for tp, meta in offsets.items() if tp.topic == raw_topic and meta.offset > 0)
            now = time.perf_counter()
            if c and first is None:
                first = now
            if warm is None and c >= n * WARMUP:
                warm, cpu_warm = (now, c), cpu_now(pids)
            if c != last_count:
                last_count, last_change = c, now
                cpu_last = cpu_now(pids)
            if c >= n or now - last_change > 60:
                rate = (last_count - warm[1]) / (last_change - warm[0]) if warm and last_change > warm[0] else 0.0
                cpu = cpu_per_headline(cpu_warm, cpu_last, last_count - warm[1]) if warm else {}
                return last_count, first, last_change, rate, cpu
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def baseline(bootstrap: str, topics: Topics, rules_dir: Path, n: int, classify: bool = True,
                   broker_pid: int | None = None) -> tuple[float, dict[str, float]]:
    """The plain loop; with `classify=False` each raw message is copied to the classified topic
    as it is: what Kafka and aiokafka alone allow on this machine, the ceiling of any worker.
    Returns the rate and the CPU µs per headline of the loop and of the broker."""
    ruleset = load_rules(rules_dir)
    consumer = AIOKafkaConsumer(topics.raw, bootstrap_servers=bootstrap, group_id="bench-baseline",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    done = 0
    started = None
    pids = {"worker": os.getpid(), "broker": broker_pid}
    try:
        while done < n:
            batch = await consumer.getmany(timeout_ms=500)
            if started is None and done >= n * WARMUP:
                started, done_at_start = time.perf_counter(), done
                cpu_start = cpu_now(pids)
            futures = []
            for records in batch.values():
                for r in records:
                    if not classify:
                        futures.append(await producer.send(topics.classified, r.value, key=r.key))
                        done += 1
                        continue
                    out = classify_headline(parse_raw(r.value), ruleset)
                    data = out.to_bytes()
                    futures.append(await producer.send(topics.classified, data, key=r.key))
                    for m in out.categories:
                        futures.append(await producer.send(topics.category(m.id), data, key=r.key))
                    done += 1
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
        rate = (done - done_at_start) / (time.perf_counter() - started)
        return rate, cpu_per_headline(cpu_start, cpu_now(pids), done - done_at_start)
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    which = sys.argv[2] if len(sys.argv) > 2 else "synthetic"  # or "packs": the 9 shipped categories
    stream = sys.argv[3] if len(sys.argv) > 3 else "news"  # or "conflict"
    lines = conflict_titles(random.Random(3)) if stream == "conflict" else real_titles()
    feeds = 200 if stream == "conflict" else 1
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
            # the watchfloor process worker
            wf = Topics("wf")
            asyncio.run(ensure_topics(bootstrap, bench_specs(wf, categories)))
            asyncio.run(fill(bootstrap, wf.raw, lines, n, "wf", feeds))
            env = {**os.environ, "WATCHFLOOR_KAFKA_BOOTSTRAP": bootstrap, "WATCHFLOOR_TOPIC_PREFIX": "wf",
                   "WATCHFLOOR_RULES": str(root / "rules"), "WATCHFLOOR_DATA_DIR": str(root / "data"),
                   "WATCHFLOOR_METRICS_PORT": "0"}
            log = open(root / "process.log", "w")
            t0 = time.perf_counter()
            proc = subprocess.Popen([str(Path(sys.executable).parent / "watchfloor"), "process"], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                pids = {"worker": proc.pid, "broker": broker.proc.pid if broker.proc else None}
                last_count, first, end, wf_rate, wf_cpu = asyncio.run(watch(bootstrap, wf.raw, "wf-processors", n, pids))
            finally:
                proc.terminate()
                proc.wait(60)
            ready_s = (first - t0) if first else float("nan")
            # baseline loop
            bl = Topics("bl")
            asyncio.run(ensure_topics(bootstrap, bench_specs(bl, categories)))
            asyncio.run(fill(bootstrap, bl.raw, lines, n, "bl", feeds))
            broker_pid = broker.proc.pid if broker.proc else None
            base_rate, base_cpu = asyncio.run(baseline(bootstrap, bl, root / "rules", n, broker_pid=broker_pid))
            # the ceiling: the same loop, no classification
            cl = Topics("cl")
            asyncio.run(ensure_topics(bootstrap, bench_specs(cl, categories)))
            asyncio.run(fill(bootstrap, cl.raw, lines, n, "cl", feeds))
            ceiling, ceil_cpu = asyncio.run(baseline(bootstrap, cl, root / "rules", n, classify=False, broker_pid=broker_pid))
            handed = asyncio.run(count_messages(bootstrap, wf.alerting_work))
        finally:
            broker.stop()
    label = "the 9 shipped category rules" if which == "packs" else "1,000 synthetic rules (1,000 category topics)"
    print(f"{n} headlines ({stream}), {label}, one worker on {os.cpu_count()} cores; rates after the first {WARMUP:.0%}")
    print(f"watchfloor process (transactions): {wf_rate:8.0f} headlines/s raw -> classified ({last_count}/{n} done, "
          f"{handed} alert hand-offs); start -> first batch committed {ready_s:.2f} s")
    print(f"baseline aiokafka loop:            {base_rate:8.0f} headlines/s; ratio {wf_rate / base_rate:.2f}x")
    print(f"ceiling, the loop copying raw to classified: {ceiling:8.0f} messages/s (no classification)")
    cpus = {"watchfloor process": wf_cpu, "baseline loop": base_cpu, "ceiling loop": ceil_cpu}
    for name, cpu in cpus.items():
        print(f"CPU per headline, {name:18}: worker {cpu.get('worker', float('nan')):6.1f} µs, "
              f"broker {cpu.get('broker', float('nan')):6.1f} µs; 20,000/s on 2 cores allows 100 µs for both")
    print(json.dumps({"headlines": n, "rules": which, "stream": stream, "process_headlines_per_s": round(wf_rate),
                      "baseline_headlines_per_s": round(base_rate),
                      "ceiling_messages_per_s": round(ceiling), "ratio": round(wf_rate / base_rate, 3),
                      "alert_handoffs": handed, "start_to_first_commit_s": round(ready_s, 2),
                      "cpu_us_per_headline": cpus}))


async def count_messages(bootstrap: str, topic: str) -> int:
    """Records of a topic as a read_committed reader sees them (transaction markers not counted)."""
    from core.kafka import read_to_end
    from core.settings import Settings

    return len(await read_to_end(Settings(bootstrap=bootstrap), topic))


if __name__ == "__main__":
    main()
