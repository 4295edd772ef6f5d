"""End-to-end latency: headline on the raw topic -> alert delivered to a webhook, p50/p99.

Starts its own broker, `watchfloor process`, `watchfloor alert` and `watchfloor notify` (real processes), a local
HTTP receiver behind Apprise's json://, then produces headlines at a fixed rate, each a new
event that fires an alert. Latency = receiver's arrival time - produce time, with the events'
group wait set to 0 (it adds exactly its own length: WATCHFLOOR_EVENT_GROUP_WAIT=20 to see).
Run: `.venv/bin/python bench/latency.py [RATE ...]` (default 100 headlines/s for 20 s);
BENCH_ALERT_EVERY=10 makes one headline in ten an alerting story, the rest non-matching;
BENCH_STAGES_LOG=FILE keeps the three stages' logs in FILE.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from functools import lru_cache
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer, TopicPartition  # noqa: E402

from core.broker import EmbeddedBroker, free_port  # noqa: E402
from core.contracts import RawHeadline  # noqa: E402
from core.kafka import make_consumer, records_to_end, topic_partitions  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.topics import Topics, ensure_topics  # noqa: E402
from alerting.grouping import word_stems  # noqa: E402
from rules.places.tagger import tag  # noqa: E402

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile strike*"]}
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    throttle: 1h
    notify: [bench]
"""

arrivals: dict[str, float] = {}


class Server(ThreadingHTTPServer):
    """A listen backlog like a real web server's (nginx: 511): the standard library's 5 drops the
    connection attempts of a notifier sending 32 alerts at once, and each dropped one is retried
    by TCP a second later, which this bench would count as the pipeline's latency."""

    request_queue_size = 512
ALERT_EVERY = int(os.environ.get("BENCH_ALERT_EVERY", "1"))  # 10: one headline in ten is an alerting story


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.time()
        text = body.decode("utf-8", "replace")
        for token in text.replace('"', " ").replace("\\", " ").split():
            token = token.strip(".,:;")
            if token.isdigit() and len(token) == 8:
                arrivals.setdefault(token, now)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def made_up_name(i: int) -> str:
    """A made-up name ("Babab", "Dabab", ...) whose first five letters (grouping's stem and sound
    key: o/a and e/i sound alike there, so only a, i, u) differ from every other's."""
    consonants, vowels = "bdfgklmnprstvz", "aiu"
    word = ""
    for n in range(3):
        word += consonants[i % len(consonants)] + (vowels[(i // len(consonants)) % len(vowels)] if n < 2 else "")
        i //= len(consonants) * len(vowels)
    return word.capitalize()


@lru_cache(maxsize=1)
def names() -> list[str]:
    """The made-up names grouping reads as a name (an anchor of its own), so that no two bench
    headlines are one event: some are English words ("Final", "Siris"), which name nothing, and a
    headline that names nothing and is worded like another joins that one's event, by design.
    Nor a real place: Binab and Bunab are both Bonab, Iran, one place, so one event."""
    out = []
    for i in range(14 * 3 * 14 * 3 * 14):
        name = made_up_name(i)
        title = f"Missile strike on {name} target overnight"
        _, keys = word_stems(title, "en")
        if any(key.startswith("~") for key, _ in keys) and not tag(title, language="en"):
            out.append(name)
    return out


def name_for(k: int) -> str:
    """Name k of the measured runs (they wrap past 24,207 alerts); k = -1, the warm-up's, is kept for it."""
    kept = names()
    return kept[-1] if k < 0 else kept[k % (len(kept) - 1)]


async def produce(settings: Settings, rate: float, seconds: float, run: str, first_name: int = 0) -> dict[str, float]:
    """Alerting headline i (one in ALERT_EVERY) names `name_for(first_name + i // ALERT_EVERY)`."""
    topics = Topics(settings.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        n = int(rate * seconds)
        start = time.monotonic()
        for i in range(n):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            token = f"{run}{i:07d}"  # the receiver finds each alert by this number
            alerting = i % ALERT_EVERY == 0
            # a made-up place name per headline: each is a new event, each fires (the number alone
            # says nothing to grouping, which drops numbers of eight digits: ids, not counts)
            title = (f"Missile strike on {name_for(first_name + i // ALERT_EVERY)} target {token} overnight" if alerting
                     else f"Markets close higher, index {token}")
            h = RawHeadline(id=token, feed_id="bench", source="Bench Wire", title=title, fetched=datetime.now(timezone.utc))
            if alerting:
                sent[token] = time.time()
            await producer.send(topics.raw, h.to_bytes(), key=h.id.encode())
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def stage_times(settings: Settings) -> tuple[dict[str, float], dict[str, float]]:
    """Per headline token: when `process` classified it (its `classified` field) and when `alert`
    sent its alert (the record's timestamp: the wall clock when the stage produced it; `fired`
    is on the stream's clock), to split the latency into its hops."""
    topics = Topics(settings.topic_prefix)
    classified: dict[str, float] = {}
    fired: dict[str, float] = {}
    for record in await read_records(settings, topics.classified):
        doc = json.loads(record.value or b"{}")
        classified[doc.get("id", "")] = datetime.fromisoformat(doc["classified"]).timestamp()
    for record in await read_records(settings, topics.alerts):
        doc = json.loads(record.value or b"{}")
        for word in doc.get("title", "").split():
            if word.isdigit() and len(word) == 8:
                fired.setdefault(word, record.timestamp / 1000)
    return classified, fired


async def read_records(settings: Settings, topic: str) -> list:
    consumer = make_consumer(settings, group_id=None)
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in await topic_partitions(settings, consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return [r async for r in records_to_end(consumer, tps)]
    finally:
        await consumer.stop()


def hops(sent: dict[str, float], classified: dict[str, float], fired: dict[str, float]) -> dict[str, float]:
    """p50 and p99 of each hop, in ms: raw -> classified, classified -> alert sent, sent -> delivered."""
    out: dict[str, float] = {}
    spans = {"classify": [(classified[k] - t) * 1000 for k, t in sent.items() if k in classified],
             "alert": [(fired[k] - classified[k]) * 1000 for k in sent if k in fired and k in classified],
             "notify": [(arrivals[k] - fired[k]) * 1000 for k in sent if k in fired and k in arrivals]}
    for name, values in spans.items():
        if values:
            out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = round(percentile(values, 50), 1), round(percentile(values, 99), 1)
    return out


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a running process (Linux /proc), None when it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    rates = [float(r) for r in sys.argv[1:]] or [100.0]
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rules").mkdir()
        (root / "rules" / "bench.yaml").write_text(RULES)
        port = free_port()
        server = Server(("127.0.0.1", port), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        (root / "apprise.txt").write_text(f"bench=json://127.0.0.1:{port}/\n")
        broker = EmbeddedBroker(root / "kafka", port=0)
        broker.start()
        procs = []
        try:
            settings = Settings(bootstrap=broker.bootstrap, topic_prefix="bench", data_dir=root / "data")
            from core.provisioning import plan

            asyncio.run(ensure_topics(broker.bootstrap, [p.spec for p in plan(settings, ["airstrike"])]))
            env = {**os.environ, "WATCHFLOOR_KAFKA_BOOTSTRAP": broker.bootstrap, "WATCHFLOOR_TOPIC_PREFIX": "bench",
                   "WATCHFLOOR_RULES": str(root / "rules"), "WATCHFLOOR_APPRISE_CONFIG": str(root / "apprise.txt"),
                   "WATCHFLOOR_DATA_DIR": str(root / "data"), "WATCHFLOOR_METRICS_PORT": "0",
                   # the pipeline's own latency: an event's group wait (20 s by default) is a
                   # deliberate delay on top of it, and would be all this bench measured
                   "WATCHFLOOR_EVENT_GROUP_WAIT": os.environ.get("WATCHFLOOR_EVENT_GROUP_WAIT", "0")}
            exe = str(Path(sys.executable).parent / "watchfloor")
            log = open(os.environ.get("BENCH_STAGES_LOG", root / "stages.log"), "w")
            procs = [subprocess.Popen([exe, stage], env=env, stdout=log, stderr=subprocess.STDOUT) for stage in ("process", "alert", "notify")]
            pids = {"process": procs[0].pid, "alert": procs[1].pid, "notify": procs[2].pid, "broker": broker.proc.pid if broker.proc else None,
                    "bench (producer, receiver)": os.getpid()}
            # warm up: one alert end to end before measuring
            warm = asyncio.run(produce(settings, 1, 1, "9", first_name=-1))
            deadline = time.time() + 90
            while not all(k in arrivals for k in warm) and time.time() < deadline:
                time.sleep(0.2)
            if not all(k in arrivals for k in warm):
                sys.exit("warm-up alert never arrived; see " + str(root / "stages.log") + "\n" + (root / "stages.log").read_text()[-3000:])
            results = []
            used = 0
            for i, rate in enumerate(rates):
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                sent = asyncio.run(produce(settings, rate, seconds, str(i + 1), first_name=used))
                used += len(sent)  # each run's events are new ones (names wrap past 24,207 alerts)
                deadline = time.time() + 60
                while not all(k in arrivals for k in sent) and time.time() < deadline:
                    time.sleep(0.2)
                time.sleep(1)  # the last commits
                # CPU each stage spent on this run, per 1,000 headlines produced (idle polling included)
                # (to keep up at RATE/s the sum must stay under 1,000 ms per core: the run's wall time
                # is longer than `seconds` when the stages fall behind, and the work is the same)
                cpu = {name: round((after - cpu_before[name]) * 1e6 / (rate * seconds), 1)
                       for name, pid in pids.items()
                       if (after := cpu_seconds(pid)) is not None and cpu_before[name] is not None}
                lat = [(arrivals[k] - t) * 1000 for k, t in sent.items() if k in arrivals]
                row = {"rate_per_s": rate, "alert_every": ALERT_EVERY, "seconds": seconds, "sent": len(sent), "delivered": len(lat),
                       "p50_ms": round(percentile(lat, 50), 1) if lat else None,
                       "p99_ms": round(percentile(lat, 99), 1) if lat else None,
                       "max_ms": round(max(lat), 1) if lat else None, "mean_ms": round(statistics.mean(lat), 1) if lat else None}
                classified, fired = asyncio.run(stage_times(settings))
                row.update(hops(sent, classified, fired))
                row["cpu_ms_per_1000"] = cpu
                missing = [k for k in sent if k not in arrivals]
                if missing:  # where each undelivered alert stopped
                    row["missing"] = {k: "not classified" if k not in classified else "no alert" if k not in fired
                                      else "not delivered" for k in missing}
                results.append(row)
                print(f"{rate:>6.0f} headlines/s (1 in {ALERT_EVERY} alerts): {len(lat)}/{len(sent)} alerts delivered, latency p50 {row['p50_ms']} ms, "
                      f"p99 {row['p99_ms']} ms, max {row['max_ms']} ms")
                print("        by hop (p50 / p99 ms): " + ", ".join(
                    f"{name} {row.get(name + '_p50_ms')} / {row.get(name + '_p99_ms')}" for name in ("classify", "alert", "notify")))
                print("        CPU ms per 1,000 headlines: " + ", ".join(f"{name} {ms}" for name, ms in cpu.items()))
                if missing:
                    print("        undelivered: " + ", ".join(f"{k} ({why})" for k, why in row["missing"].items()))
            print(json.dumps(results))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            broker.stop()
            server.shutdown()


if __name__ == "__main__":
    main()
