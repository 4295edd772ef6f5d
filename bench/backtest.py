"""Backtest speed: headlines/s replayed from the raw topic through two rule sets (the shipped
packs in force and a candidate with one term more), on one core, in one process.

Baseline, measured in the same run on the same topic: reading the same range with the same
consumer and decoding each record's JSON, without classifying (the floor the replay can reach).
Goal: 1,000,000 headlines in under a minute. Run: `.venv/bin/python bench/backtest.py [N]`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.classify import real_titles  # noqa: E402
from watchfloor.backtest import Backtest  # noqa: E402
from rules.loader import DEFAULT_RULES, load_rules  # noqa: E402
from core.broker import EmbeddedBroker  # noqa: E402
from core.history import read_range  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.topics import Topics, ensure_topics  # noqa: E402


async def fill(bootstrap: str, topic: str, lines: list[str], n: int, start_ms: int, span_ms: int) -> None:
    """n headlines stamped evenly over span_ms from start_ms: a week of history, say."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=50, max_batch_size=1024 * 1024,
                                compression_type="lz4" if _has_lz4() else None)
    await producer.start()
    try:
        fetched = datetime.now(timezone.utc).isoformat()
        pending = []
        for i in range(n):
            doc = {"schema": "headline.raw/1", "id": f"b{i}", "feed_id": "bench", "source": f"Source {i % 40}",
                   "title": lines[i % len(lines)], "summary": "", "link": None, "published": None,
                   "fetched": fetched, "language": "en"}
            pending.append(await producer.send(topic, json.dumps(doc).encode(), key=doc["id"].encode(),
                                               timestamp_ms=start_ms + span_ms * i // n))
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _has_lz4() -> bool:
    try:
        import lz4  # noqa: F401
    except ImportError:
        return False
    return True


async def read_only(settings: Settings, topic: str, since: datetime) -> int:
    n = 0
    async for batch in read_range(settings, topic, since):
        for _, value in batch:
            json.loads(value)
            n += 1
    return n


async def replay(settings: Settings, topic: str, since: datetime, test: Backtest) -> None:
    async for batch in read_range(settings, topic, since):
        test.add(batch)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    lines = real_titles()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(DEFAULT_RULES, root / "current")
        shutil.copytree(DEFAULT_RULES, root / "candidate")
        target = root / "candidate" / "airstrike.yaml"
        data = yaml.safe_load(target.read_text())
        data["rules"][0]["match"]["any"].insert(0, "explosion*")  # the rule change under test
        target.write_text(yaml.safe_dump(data, allow_unicode=True))
        current, candidate = load_rules(root / "current"), load_rules(root / "candidate")
        broker = EmbeddedBroker(root / "kafka", port=0)
        broker.start()
        try:
            settings = Settings(bootstrap=broker.bootstrap, topic_prefix="bt", data_dir=root / "data")
            topics = Topics("bt")
            asyncio.run(ensure_topics(broker.bootstrap, [s for s in topics.specs() if s.name == topics.raw]))
            since = datetime.now(timezone.utc) - timedelta(days=8)
            week = 7 * 86400 * 1000
            t = time.perf_counter()
            asyncio.run(fill(broker.bootstrap, topics.raw, lines, n, int(time.time() * 1000) - week, week))
            fill_s = time.perf_counter() - t
            t = time.perf_counter()
            read_n = asyncio.run(read_only(settings, topics.raw, since))
            base_s = time.perf_counter() - t
            test = Backtest(current, candidate)
            t = time.perf_counter()
            asyncio.run(replay(settings, topics.raw, since, test))
            report = test.finish()
            bt_s = time.perf_counter() - t
        finally:
            broker.stop()
    changed = sum(c.gained_count + c.lost_count for c in report.categories.values())
    print(f"{n:,} headlines over 7 days on the raw topic (filled in {fill_s:.1f} s); rules: the 9 shipped packs vs the same + 'explosion*' in airstrike")
    print(f"baseline read + JSON decode: {read_n:,} in {base_s:.1f} s = {read_n / base_s:,.0f} /s")
    print(f"backtest (read, classify twice, replay alerts): {report.headlines:,} in {bt_s:.1f} s = "
          f"{report.headlines / bt_s:,.0f} /s; {bt_s / base_s:.2f}x the baseline's time; {changed:,} category changes")
    print(f"goal 1,000,000 in < 60 s: {'met' if report.headlines / bt_s * 60 >= 1_000_000 else 'NOT met'} "
          f"({1_000_000 / (report.headlines / bt_s):.1f} s per million)")
    print(json.dumps({"headlines": report.headlines, "backtest_per_s": round(report.headlines / bt_s),
                      "baseline_read_per_s": round(read_n / base_s), "seconds_per_million": round(1_000_000 / (report.headlines / bt_s), 1)}))


if __name__ == "__main__":
    main()
