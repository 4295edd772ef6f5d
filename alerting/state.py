"""What alert rules remember between headlines, as plain data with indexes, and its changelog form.

The live stage keeps it in a compacted topic (one entry per story and per throttle, keyed as
below) and rebuilds it with `AlertState.load` after a restart; the backtest keeps one in memory.
Nothing here knows Kafka: the engine (alerting/engine.py) returns the entries a step changed.

Keys: "story\\x1f<rule id>\\x1f<story id>" -> the story as JSON;
      "throttle\\x1f<rule id>\\x1f<group>" -> when the group last fired (seconds, as text).
The faust app's older forms ("<rule id>\\x1f<story id>", "<rule id>" -> list) are not read.
"""

from __future__ import annotations

import heapq
import json
import math
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from functools import lru_cache

from alerting.stories import SAME_STORY, must_share, norm, overlap, same_story, suffix_masses

SEP = "\x1f"
STORY = "story"
THROTTLE = "throttle"
_LIMIT = SAME_STORY ** 2
_SLACK = 1e-9  # relative: the bounds are summed in another order than same_story's score
_STORY_FIELDS = {"id", "tokens", "first_seen", "last_seen", "title", "summary", "reports", "sources", "categories", "matched"}


def story_key(rule_id: str, story_id: str) -> str:
    return f"{STORY}{SEP}{rule_id}{SEP}{story_id}"


def throttle_key(rule_id: str, group: str) -> str:
    return f"{THROTTLE}{SEP}{rule_id}{SEP}{group}"


def encode_story(story: dict) -> bytes:
    return json.dumps(story, ensure_ascii=False, separators=(",", ":")).encode()


@lru_cache(maxsize=16384)  # a headline's keys are looked up, filed, and unfiled when it expires
def index_keys(tokens: frozenset[str]) -> tuple[float, tuple[tuple[str, float], ...], tuple[tuple[str, tuple[tuple[str, float], ...]], ...]]:
    """(mass, singles, pairs) of a token set, for a story filed and for a headline looked up:

    - singles: (token, weight²) of the tokens heavy enough to make a match alone;
    - pairs: (x1, ((x2, bound), ...)) for the token pairs that can be the first two a match
      shares, x1 before x2 heaviest first, bound = weight(x1)² + the mass from x2 on.
    Only keys with weight² (or bound) >= SAME_STORY² x mass can ever suffice: both sides have
    at least SAME_STORY² x the other's mass, or they could not reach SAME_STORY."""
    masses = suffix_masses(tokens)
    if not masses:
        return 0.0, (), ()
    mass = masses[0][2]
    floor = _LIMIT * mass * (1 - _SLACK)
    singles = []
    for token, w2, _ in masses:
        if w2 < floor:
            break  # heaviest first
        singles.append((token, w2))
    pairs = []
    for i in range(len(masses) - 1):
        first, w1, _ = masses[i]
        if w1 + masses[i + 1][2] < floor:
            break  # every later pair is lighter still
        seconds = []
        for second, _, rest in masses[i + 1:]:
            bound = w1 + rest
            if bound < floor:
                break
            seconds.append((second, bound))
        pairs.append((first, tuple(seconds)))
    return mass, tuple(singles), tuple(pairs)


class RuleStories:
    """One rule's open stories, in creation order, with the indexes that keep a step's cost
    from following the number of open stories.

    A headline a and a story b are the same story only if their shared mass W reaches
    SAME_STORY·sqrt(|a|·|b|) (|x| = mass, the sum of weight² of its tokens). Take the tokens
    they share, heaviest first: if that is one token x, W = weight(x)²; otherwise W is at most
    weight(x1)² + the mass from x2 on, in a and in b alike. So b is filed under its heavy tokens
    (`singles`, by |b|) and under its token pairs (`pairs`, by bound²/|b|), each only where the
    bound could ever suffice, and a lookup reads the heads of the few lists that a's own heavy
    tokens and pairs name: candidates that could match, not every story sharing a word.
    `by_seen` ([(last_seen, seq, id)], sorted) serves expiry and the window count.
    """

    def __init__(self) -> None:
        self.stories: dict[str, dict] = {}  # story id -> story, oldest (lowest seq) first once ordered
        self._filed: dict[str, tuple[frozenset[str], float, int]] = {}  # story id -> (tokens, mass, seq)
        # token -> (|b|, id) entries, ascending; x1 -> x2 -> (-bound²/|b|, id) entries, ascending
        # (by first token, so a headline's pairs are looked up in a few small tables). A key most
        # stories do not share holds its one entry bare, not in a list (see _put).
        self._singles: dict[str, tuple[float, str] | list[tuple[float, str]]] = {}
        self._pairs: dict[str, dict[str, tuple[float, str] | list[tuple[float, str]]]] = {}
        self._by_seen: list[tuple[float, int, str]] = []
        self.next_seq = 0
        self._ordered = True

    def __len__(self) -> int:
        return len(self.stories)

    def add(self, story: dict) -> None:
        """Files a story (new, or read back from the changelog, replacing one of the same id)."""
        sid = story["id"]
        if sid in self.stories:
            self.remove(sid)
        seq = story.setdefault("seq", self.next_seq)
        if self.stories and seq < next(reversed(self.stories.values()))["seq"]:
            self._ordered = False  # read back out of order: sorted when the oldest is needed
        self.next_seq = max(self.next_seq, seq + 1)
        tokens = frozenset(story["tokens"])
        self.stories[sid] = story
        self._filed[sid] = (tokens, self._file(sid, tokens, _put), seq)
        insort(self._by_seen, (story["last_seen"], seq, sid))

    def _file(self, sid: str, tokens: frozenset[str], put: Callable[[dict, object, tuple], None]) -> float:
        """Puts (or with `put=_take` takes) the story's index entries; returns its mass.
        Both directions derive the same entries from the tokens alone."""
        mass, singles, pairs = index_keys(tokens)
        for token, _ in singles:
            put(self._singles, token, (mass, sid))
        for first, seconds in pairs:
            table = self._pairs.get(first)
            if table is None:
                if put is _take:
                    continue
                table = self._pairs[first] = {}
            for second, bound in seconds:
                put(table, second, (-(bound * bound / mass), sid))
            if not table:
                del self._pairs[first]
        return mass

    def remove(self, sid: str) -> None:
        story = self.stories.pop(sid)
        self._drop_seen(story["last_seen"], story["seq"], sid)
        self._unfile(sid)

    def _unfile(self, sid: str) -> None:
        tokens, _, _ = self._filed.pop(sid)
        self._file(sid, tokens, _take)

    def _drop_seen(self, last_seen: float, seq: int, sid: str) -> None:
        _discard(self._by_seen, (last_seen, seq, sid))

    def touch(self, story: dict, now: float) -> None:
        """The story has a report at `now` (kept even if `now` is earlier: as the faust agent did)."""
        self._drop_seen(story["last_seen"], story["seq"], story["id"])
        story["last_seen"] = now
        insort(self._by_seen, (now, story["seq"], story["id"]))

    def expire(self, horizon: float, keep: int) -> list[str]:
        """Removes the stories last seen before `horizon`, then the oldest beyond `keep`; their ids."""
        cut = bisect_left(self._by_seen, (horizon,))
        gone = [sid for _, _, sid in self._by_seen[:cut]]
        del self._by_seen[:cut]
        for sid in gone:
            del self.stories[sid]
            self._unfile(sid)
        if len(self.stories) > keep:
            self._order()
            while len(self.stories) > keep:
                sid = next(iter(self.stories))
                self.remove(sid)
                gone.append(sid)
        return gone

    def _order(self) -> None:
        if not self._ordered:
            self.stories = dict(sorted(self.stories.items(), key=lambda kv: kv[1]["seq"]))
            self._ordered = True

    def count_since(self, since: float) -> int:
        return len(self._by_seen) - bisect_left(self._by_seen, (since,))

    def candidates(self, tokens: frozenset[str]) -> list[str]:
        """Ids of the open stories `tokens` could be the same story as, newest first: every
        match is among them (the bounds are necessary conditions), and few others."""
        mass, singles, pairs = index_keys(tokens)
        if not mass:
            return []
        limit = _LIMIT * mass  # SAME_STORY² x the headline's mass
        floor = limit * (1 - _SLACK)
        found: dict[str, int] = {}
        filed = self._filed
        for token, w2 in singles:
            entries = _entries(self._singles, token)
            if entries:  # one shared token suffices only if weight⁴ >= SAME_STORY² x |a| x |b|
                widest = w2 * w2 / limit * (1 + _SLACK)
                for size, sid in entries:
                    if size > widest:
                        break
                    found[sid] = filed[sid][2]
        for first, seconds in pairs:
            table = self._pairs.get(first)
            if table is None:
                continue  # no open story has this token early enough: its pairs need no look
            for second, bound in seconds:
                entries = _entries(table, second)
                if entries:  # bound >= SAME_STORY x sqrt(|a| x |b|), for a's bound and for b's
                    widest = bound * bound / limit * (1 + _SLACK)
                    for negative, sid in entries:
                        if -negative < floor:
                            break
                        tokens_mass_seq = filed[sid]
                        if tokens_mass_seq[1] <= widest:
                            found[sid] = tokens_mass_seq[2]
        return sorted(found, key=found.__getitem__, reverse=True)

    def match(self, tokens: frozenset[str]) -> dict | None:
        """The newest open story `tokens` is the same story as: the full scan's answer, with
        `same_story` asked only about candidates whose shared weight can reach the threshold."""
        found = self.candidates(tokens)
        if not found:
            return None
        need = SAME_STORY * (1 - _SLACK)
        mass = norm(tokens)
        key_words: frozenset[str] | None = None
        for sid in found:
            other = self._filed[sid][0]
            if overlap(other, tokens) < need * math.sqrt(norm(other) * mass):
                continue
            if key_words is None:
                key_words = must_share(tokens)  # the full scan's pre-filter, kept so the answer is its
            if not key_words.isdisjoint(other) and same_story(other, tokens):
                return self.stories[sid]
        return None

    def ordered(self) -> list[dict]:
        self._order()
        return list(self.stories.values())


def _discard(entries: list, entry: tuple) -> None:
    i = bisect_left(entries, entry)
    if i < len(entries) and entries[i] == entry:
        del entries[i]


def _put(index: dict, key: object, entry: tuple) -> None:
    """Adds an entry under key, keeping the key's entries sorted; a lone entry is kept bare."""
    have = index.get(key)
    if have is None:
        index[key] = entry
    elif type(have) is tuple:
        index[key] = sorted((have, entry))
    else:
        insort(have, entry)


def _take(index: dict, key: object, entry: tuple) -> None:
    """Removes an entry put by `_put`, and the key with its last entry (no empty lists pile up)."""
    have = index.get(key)
    if have is None:
        return
    if type(have) is tuple:
        if have == entry:
            del index[key]
        return
    _discard(have, entry)
    if len(have) == 1:
        index[key] = have[0]
    elif not have:
        del index[key]


def _entries(index: dict, key: object) -> tuple | list:
    have = index.get(key)
    if have is None:
        return ()
    return (have,) if type(have) is tuple else have


class AlertState:
    """Everything alert rules remember: open stories per rule (with a candidate index) and throttles."""

    def __init__(self) -> None:
        self.rules: dict[str, RuleStories] = {}
        self.throttles: dict[str, float] = {}  # throttle key -> when the group last fired
        self._fired: dict[str, list[tuple[float, str]]] = {}  # rule id -> heap of (fired, throttle key)

    def stories(self, rule_id: str) -> RuleStories:
        rs = self.rules.get(rule_id)
        if rs is None:
            rs = self.rules[rule_id] = RuleStories()
        return rs

    def open_stories(self, rule_id: str) -> list[dict]:
        """The rule's open stories, oldest first (for tests and operator tools)."""
        rs = self.rules.get(rule_id)
        return rs.ordered() if rs else []

    def last_fired(self, key: str) -> float | None:
        return self.throttles.get(key)

    def set_fired(self, rule_id: str, key: str, when: float) -> None:
        self.throttles[key] = when
        heapq.heappush(self._fired.setdefault(rule_id, []), (when, key))

    def expire_throttles(self, rule_id: str, before: float) -> list[str]:
        """Drops the rule's throttles that fired before `before` (their keys): without this, one
        entry per alerted story would stay in the changelog for ever."""
        heap = self._fired.get(rule_id)
        gone = []
        while heap and heap[0][0] < before:
            when, key = heapq.heappop(heap)
            if self.throttles.get(key) == when:
                del self.throttles[key]
                gone.append(key)
        return gone

    def load(self, key: str, value: bytes | None) -> None:
        """One changelog entry (story or throttle), as written by `records()` or a step; None
        (a tombstone) forgets the key. Raises ValueError on an entry it cannot read."""
        if value is None:
            self.forget(key)
            return
        kind, rule_id, rest = _split(key)
        try:
            if kind == STORY:
                story = json.loads(value)
                if not isinstance(story, dict) or story.get("id") != rest or not _STORY_FIELDS <= story.keys():
                    raise ValueError("not a story of this key")
                if not isinstance(story["tokens"], list) or not isinstance(story["last_seen"], (int, float)):
                    raise ValueError("a story needs its tokens and when it was last seen")
                self.stories(rule_id).add(story)
            else:
                self.set_fired(rule_id, key, float(value))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable alert state entry {key!r}: {exc}") from exc

    def forget(self, key: str) -> None:
        kind, rule_id, rest = _split(key)
        if kind == STORY:
            rs = self.rules.get(rule_id)
            if rs is not None and rest in rs.stories:
                rs.remove(rest)
        else:
            self.throttles.pop(key, None)  # its heap entry is skipped when popped

    def records(self) -> Iterator[tuple[str, bytes]]:
        """The whole state as changelog entries: what a compacted topic holds after these steps."""
        for rule_id, rs in self.rules.items():
            for story in rs.ordered():
                yield story_key(rule_id, story["id"]), encode_story(story)
        for key, when in self.throttles.items():
            yield key, repr(when).encode()


def _split(key: str) -> tuple[str, str, str]:
    parts = key.split(SEP, 2)
    if len(parts) != 3 or parts[0] not in (STORY, THROTTLE):
        raise ValueError(f"not an alert state key: {key!r}")
    return parts[0], parts[1], parts[2]
