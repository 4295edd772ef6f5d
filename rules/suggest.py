"""Terms a category rule may be missing, mined from history, for an operator to review.

A near-miss of a rule is a headline the rule does not match that either
- carries one branch of the rule all but one group of terms: the rule's context without its
  trigger ("Russian drones pummel Kharkiv" has the weapon of a `weapon + hit verb` branch, no
  hit verb it knows); the term belongs in that group; or
- shares a story with a headline the rule matches: two or more rare words in common (names,
  places, things few other headlines carry) with a match of the same days (36 hours apart at
  most; in a file without times, 200 lines apart); the term belongs in the rule's top-level `any`.

Candidates are the near-misses' words, word pairs and shared stems (`stem*`) that recur. Each is
tried as the backtest tries a rule change: the rule is compiled with the term added, and every
headline that holds the term is classified again by the same engine the processor runs. What
it gains is split by the one independent evidence there is without labels: headlines that share
a story with a matched one (confirmed: likely right) and the rest (unconfirmed: possible false
alarms, to read); what it loses is counted too. A group's own context is no evidence: a term
put into a group gains only headlines that have the rest of the branch, by construction.
Nothing is written: the rule files change only by hand.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Union

from rules.engine import Failure, Loc
from rules.loader import RuleSet, RulesError, compile_rule
from rules.model import CategoryRule, Condition
from rules.text import words

# Words that carry no story and make no term: English, Ukrainian and Russian function words.
STOP = frozenset("""
a an the of in on at to for from by with and or but as is are was were be been has have had it its this that
these those after before over under into out up down off about amid against says said say new more than not
no will would could may can near near-by also their his her they them we our you your who what when where
why how all some any one two three four five first last next year years day days week weeks month months
live news update updates report reports video watch via per just still now
і й та а але в у на з із зі до від по за про для що як це не ні так його її їх він вона вони ми ви
після перед під над між через також вже ще був була було були буде є
и в во на с со к ко от по за о об для что как это не ни так его ее их он она они мы вы
после перед под над между через также уже еще был была было были будет есть
""".split())

Where = tuple[Union[str, int], ...]  # the Condition inside `match` whose `any` would take the term


STORY_HOURS = 36.0  # a story's reports come within a day and a half (as an event's span)
STORY_LINES = 200  # the same, in a file of headlines in time order with no times: ~a day of a busy wire


@dataclass(frozen=True)
class Headline:
    title: str
    summary: str = ""
    at: float | None = None  # epoch seconds (the raw topic's timestamps); None: the order is the time


@dataclass
class Suggestion:
    """One term for one rule, and what adding it would change on the history."""

    rule: str
    term: str
    where: Where
    confirmed: int  # gained headlines that share a story with a headline the rule matches
    unconfirmed: int  # other gained headlines: possible false alarms
    lost: int
    examples: list[str] = field(default_factory=list)
    other_examples: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        """Where the term goes, as `rules test` names places: "match.any", "match.any[2].all[1].any"."""
        out = "match"
        for part in self.where:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out + ".any"


@dataclass
class RuleSuggestions:
    rule: str
    matched: int
    near_misses: int
    suggestions: list[Suggestion]
    same_story: int = 0  # unmatched headlines sharing a story with a matched one


def suggest(ruleset: RuleSet, headlines: Sequence[Headline], rule_ids: Iterable[str] | None = None, *,
            top: int = 10, min_support: int = 2, use_c: bool = True) -> list[RuleSuggestions]:
    """The best `top` terms per rule, best first: most confirmed gains net of unconfirmed ones."""
    history = _History(ruleset, headlines)
    wanted = set(rule_ids) if rule_ids is not None else None
    out = []
    for rule in ruleset.rules:
        if wanted is None or rule.id in wanted:
            out.append(_for_rule(history, rule, top, min_support, use_c))
    return out


class _History:
    """The headlines cut into words once, classified by the rules in force, and indexed by word."""

    def __init__(self, ruleset: RuleSet, headlines: Sequence[Headline]) -> None:
        self.ruleset = ruleset
        self.headlines = headlines
        self.tokens = [(words(h.title), words(h.summary) if h.summary else []) for h in headlines]
        self.matched = [{m.id for m in ruleset.engine.classify_words(t, s)} for t, s in self.tokens]
        self.vocab = [set(t) | set(s) for t, s in self.tokens]
        self.df: Counter[str] = Counter(w for v in self.vocab for w in v)
        self.by_word: dict[str, list[int]] = defaultdict(list)
        for i, v in enumerate(self.vocab):
            for w in v:
                self.by_word[w].append(i)
        self.rare_at_most = max(5, len(headlines) // 200)
        timed = bool(headlines) and all(h.at is not None for h in headlines)
        self.when = [h.at for h in headlines] if timed else [float(i) for i in range(len(headlines))]  # type: ignore[misc]
        self.window = STORY_HOURS * 3600 if timed else float(STORY_LINES)
        self._why: dict[int, dict[str, list[Failure]]] = {}

    def rare(self, word: str) -> bool:
        return self.df[word] <= self.rare_at_most and _wordlike(word)

    def why_not(self, i: int) -> dict[str, list[Failure]]:
        if i not in self._why:
            h = self.headlines[i]
            self._why[i] = self.ruleset.engine.why_not(h.title, h.summary)
        return self._why[i]

    def holding(self, term: str) -> set[int]:
        """Headlines with every word of the term (a final `*` as a prefix): all it could change."""
        parts = words(term.rstrip("*"))
        if not parts:
            return set()
        found: set[int] | None = None
        for n, part in enumerate(parts):
            if n == len(parts) - 1 and term.endswith("*"):
                ids = {i for w in self.by_word if w.startswith(part) for i in self.by_word[w]}
            else:
                ids = set(self.by_word.get(part, ()))
            found = ids if found is None else found & ids
        return found or set()


def _wordlike(word: str) -> bool:
    return len(word) >= 3 and word not in STOP and not any(c.isdigit() for c in word)


def _gap(failures: Sequence[Failure]) -> Loc | None:
    """Where a headline lacks exactly one group of a branch of the rule (no veto), else None."""
    if len(failures) != 1:
        return None
    failure = failures[0]
    if failure.kind == "missing" and failure.term is None:
        return failure.loc
    if failure.kind == "no_any":
        for branch in failure.causes:
            loc = _gap(branch.causes)
            if loc is not None:
                return loc
    return None


def _near_misses(history: _History, rule_id: str) -> tuple[dict[int, Where], set[int]]:
    """Near-misses with where their term would go, and those of them that share a story."""
    hit = [i for i, m in enumerate(history.matched) if rule_id in m]
    story_words: dict[str, set[int]] = defaultdict(set)
    for i in hit:
        for w in history.vocab[i]:
            if history.rare(w):
                story_words[w].add(i)
    near: dict[int, Where] = {}
    story: set[int] = set()
    for i, m in enumerate(history.matched):
        if rule_id in m:
            continue
        when, window = history.when[i], history.window
        shared = Counter(j for w in history.vocab[i] if w in story_words for j in story_words[w]
                         if abs(history.when[j] - when) <= window)
        if shared and max(shared.values()) >= 2:
            story.add(i)
        failures = history.why_not(i).get(rule_id)
        loc = _gap(failures) if failures else None
        if loc is not None:
            near[i] = loc
        elif i in story:
            near[i] = ()
    return near, story


def _candidates(history: _History, near: dict[int, Where], min_support: int, most: int = 40) -> list[tuple[Where, str]]:
    """Recurring words, word pairs and shared stems of the near-misses, per place they would go."""
    counts: dict[Where, Counter[str]] = defaultdict(Counter)
    for i, where in near.items():
        title, summary = history.tokens[i]
        features: set[str] = set()
        for seq in (title, summary):
            features.update(w for w in seq if _wordlike(w))
            features.update(f"{a} {b}" for a, b in zip(seq, seq[1:]) if _wordlike(a) and _wordlike(b))
        counts[where].update(features)
    out: list[tuple[Where, str]] = []
    for where, counter in counts.items():
        singles = sorted(w for w in counter if " " not in w and len(w) >= 5)
        for stem in _shared_stems(singles):
            counter[stem + "*"] = len({i for i, w in near.items() if w == where
                                      and any(x.startswith(stem) for x in history.vocab[i])})
        out += [(where, term) for term, n in counter.most_common(most) if n >= min_support]
    return out


def _shared_stems(sorted_words: list[str], shortest: int = 5) -> set[str]:
    """Longest common prefixes (at least `shortest` letters) of neighbouring distinct words:
    "pummel", "pummeled", "pummels" give "pummel"; inflected Ukrainian and Russian forms alike."""
    stems: set[str] = set()
    for a, b in zip(sorted_words, sorted_words[1:]):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        if n >= shortest:
            stems.add(a[:n])
    return stems


def _with_term(rule: CategoryRule, where: Where, term: str) -> CategoryRule | None:
    """A copy of the rule with `term` added to the `any` of the condition at `where`, or None
    when that place has no `any` list to extend (adding one would add a requirement)."""
    changed = rule.model_copy(deep=True)
    node: object = changed.match
    for part in where:
        node = node[part] if isinstance(part, int) else getattr(node, part)  # type: ignore[index]
    if not isinstance(node, Condition) or not node.any:
        return None
    node.any.append(term)
    return changed


def _for_rule(history: _History, rule: CategoryRule, top: int, min_support: int, use_c: bool) -> RuleSuggestions:
    near, story = _near_misses(history, rule.id)
    matched = sum(1 for m in history.matched if rule.id in m)
    own = compile_rule(rule, use_c=use_c)
    tried: list[tuple[Suggestion, frozenset[int]]] = []
    for where, term in _candidates(history, near, min_support):
        if own.matcher.find(words(term.rstrip("*"))):
            continue  # the rule has this word already (elsewhere): moving it is not what is missing
        changed = _with_term(rule, where, term)
        if changed is None:
            continue
        try:
            engine = compile_rule(changed, use_c=use_c)
        except RulesError:
            continue
        gained, lost = [], 0
        for i in sorted(history.holding(term)):
            now = bool(engine.classify_words(*history.tokens[i]))
            before = rule.id in history.matched[i]
            if now and not before:
                gained.append(i)
            elif before and not now:
                lost += 1
        hits = [i for i in gained if i in story]
        if len(hits) < min_support:
            continue
        others = [i for i in gained if i not in story]
        tried.append((Suggestion(rule.id, term, where, len(hits), len(others), lost,
                                 [history.headlines[i].title for i in hits[:3]],
                                 [history.headlines[i].title for i in others[:3]]), frozenset(gained)))
    tried.sort(key=lambda t: (-(t[0].confirmed - t[0].unconfirmed - t[0].lost), -t[0].confirmed, t[0].unconfirmed,
                              len(t[0].term), t[0].term))
    kept: list[tuple[Suggestion, frozenset[int]]] = []
    for suggestion, gained in tried:  # "pummel" adds nothing to "pummel*" ranked above it at the same place
        if not any(k.where == suggestion.where and gained <= g for k, g in kept):
            kept.append((suggestion, gained))
    return RuleSuggestions(rule.id, matched, len(near), [k for k, _ in kept[:top]], len(story))
