"""`watchfloor rules suggest`: on a history where a rule misses a known verb ("pummel"), that term
comes out on top, in the group of the rule where it is missing, with what it would gain (and the
false alarm it would bring) counted by the engine; from a file and from the raw topic; no rule
file changes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from core.contracts import RawHeadline
from core.topics import Topics, ensure_topics
from rules.loader import load_rules
from rules.suggest import Headline, suggest
from tests.conftest import BIN

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any:
        - "missile strike*"
        - "airstrike*"
        - all:
            - any: ["drone*", "missile*", "rocket*"]
            - any: ["hit*", "strike*", "struck", "pound*"]
          none: ["drone show*"]
  - id: diplomacy
    title: Talks
    match:
      any: ["peace talks"]
"""
HISTORY = [
    "Russian drones hit Kharkiv power plant overnight",  # matched
    "Missiles strike Odesa port, two killed",  # matched
    "Airstrike on Gaza school kills 20",  # matched
    "Drone strike on Kharkiv dormitory kills four",  # matched
    "Russian drones pummel Kharkiv overnight, governor says",  # the missing verb, same story as a match
    "Missiles pummeled Odesa grain terminal before dawn",  # the missing verb, same story as a match
    "Rockets pummel Zaporizhzhia suburbs as talks stall",  # the missing verb, no story to confirm it
    "Russian missiles batter Lviv energy sites",  # another verb, seen once: not enough
    "Kharkiv dormitory blaze after overnight assault kills four",
    "Storm pummels Florida coast with record rain",  # "pummel" in another sense: no weapon, no gain
    "Boxer pummels rival to keep title",
    "Drone show dazzles crowds at festival",
    "Drone deliveries expand to three cities",
    "Markets close higher on tech rally",
]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    return tmp_path / "rules"


def digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()


def test_the_missing_verb_comes_out_on_top_where_it_is_missing(rules_dir):
    ruleset = load_rules(rules_dir)
    [strikes] = suggest(ruleset, [Headline(t) for t in HISTORY], ["airstrike"])
    assert strikes.matched == 4
    best = strikes.suggestions[0]
    assert (best.term, best.path) == ("pummel*", "match.any[2].all[1].any")  # the hit verbs, not a trigger of its own
    assert (best.confirmed, best.unconfirmed, best.lost) == (2, 1, 0)
    assert set(best.examples) == {HISTORY[4], HISTORY[5]} and best.other_examples == [HISTORY[6]]
    # counted by the engine: the rule with the term added gains exactly these, and the storm does not
    changed = RULES.replace('"pound*"]', '"pound*", "pummel*"]')
    (rules_dir / "rules.yaml").write_text(changed)
    after = load_rules(rules_dir)
    gained = [t for t in HISTORY if {m.id for m in after.engine.classify(t)} - {m.id for m in ruleset.engine.classify(t)}]
    assert gained == HISTORY[4:7]
    # no term for words the rule has already, and none seen once ("batter")
    assert all(s.term not in ("drone*", "missiles", "batter") for s in strikes.suggestions)


def test_the_command_reads_a_file_prints_the_term_first_and_changes_nothing(rules_dir, tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(json.dumps({"title": t}) for t in HISTORY[:8]) + "\n" + "\n".join(HISTORY[8:]) + "\n")
    before = digest(rules_dir)
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "suggest", "--file", str(history), "--rules", str(rules_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "14 headlines" in proc.stdout and "Nothing was changed" in proc.stdout
    block = proc.stdout.split("\nairstrike (")[1]
    first = [line for line in block.splitlines() if line.startswith('  "')][0]
    assert first.startswith('  "pummel*"') and "into match.any[2].all[1].any: +2 confirmed, +1 unconfirmed, -0" in first
    assert "? Rockets pummel Zaporizhzhia" in block
    assert digest(rules_dir) == before

    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "suggest", "--file", str(history), "--rules", str(rules_dir),
                           "--rule", "nonsense"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no category rule nonsense" in proc.stderr

    history.write_text(history.read_text() + '{"title": "broken\n')
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "suggest", "--file", str(history), "--rules", str(rules_dir)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"{history}:15: not valid JSON" in proc.stderr


def test_the_command_mines_the_raw_topic(settings, cli_env, rules_dir):
    topics = Topics(settings.topic_prefix)
    now = datetime.now(timezone.utc)

    async def fill() -> None:
        await ensure_topics(settings.bootstrap, topics.specs())
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
        await producer.start()
        try:
            for i, title in enumerate(HISTORY + HISTORY[:2]):  # the last two republished: read once
                h = RawHeadline(id=f"h{i % len(HISTORY)}", feed_id="wire", source="Wire", title=title,
                                fetched=now - timedelta(minutes=30))
                await producer.send_and_wait(topics.raw, h.to_bytes(), key=h.id.encode())
            await producer.send_and_wait(topics.raw, b"not json", key=b"junk")
        finally:
            await producer.stop()

    asyncio.run(fill())
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "suggest", "--since", "1h", "--rule", "airstrike",
                           "--rules", str(rules_dir), "--json"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["headlines"] == len(HISTORY) and [r["rule"] for r in out["rules"]] == ["airstrike"]
    best = out["rules"][0]["suggestions"][0]
    assert (best["term"], best["where"], best["confirmed"], best["unconfirmed"]) == ("pummel*", "match.any[2].all[1].any", 2, 1)
