"""Term semantics and the compiled matcher; the C automaton and the pure-Python fallback must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.engine import TermError, compile_term
from rules.loader import load_rules
from rules.text import words

RULES = """
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any: ["airstrike", "air strike", "missile strike*", "drone attack*", "shelled", "ракетн* удар*", "обстріл*",
            {all: ["strike*", {any: ["russia*", "israel*"]}]}]
      none: ["hunger strike*", "strike price"]
  - id: diplomacy
    title: Diplomacy
    fields: [title]
    match:
      any: ["peace talks", "peace plan", "переговор*"]
  - id: espionage
    title: Spies
    match:
      all: ["spy*", {none: ["film*", "novel*"]}]
"""


@pytest.fixture(params=[True, False], ids=["ahocorasick", "pure-python"])
def engine(request, tmp_path: Path):
    (tmp_path / "r.yaml").write_text(RULES)
    ruleset = load_rules(tmp_path, use_c=request.param)
    assert ruleset.engine.matcher.native == request.param
    return ruleset.engine


def ids(engine, title: str, summary: str = "") -> list[str]:
    return [m.id for m in engine.classify(title, summary)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Russian missile strike on Kharkiv injures 12", ["airstrike"]),
        ("MISSILE STRIKES pound Odesa", ["airstrike"]),
        ("Israeli air-strike kills five in Gaza", ["airstrike"]),
        ("Air strike, then silence", ["airstrike"]),
        ("Airstrikes hit Sanaa", []),  # "airstrike" is a whole word; "airstrikes" needs "airstrike*"
        ("Village shelled overnight", ["airstrike"]),
        ("Ракетного удару завдано по Тернополю", ["airstrike"]),
        ("Росія обстріляла Харків", ["airstrike"]),
        ("Russia's strikes on energy grid", ["airstrike"]),
        ("Dockworkers strike over pay", []),
        ("Hunger strikers in Russia enter day 20", []),  # vetoed by none
        ("Peace talks resume in Istanbul", ["diplomacy"]),
        ("Переговори у Стамбулі", ["diplomacy"]),
        ("Spy ring exposed in Berlin", ["espionage"]),
        ("New spy film tops box office", []),
        ("Missiles", []),
        ("", []),
    ],
)
def test_term_semantics(engine, title, expected):
    assert ids(engine, title) == expected


def test_fields_restrict_where_a_rule_looks(engine):
    assert ids(engine, "Leaders meet", summary="They agreed to hold peace talks") == []
    assert ids(engine, "Leaders meet", summary="A missile strike hit the port") == ["airstrike"]


def test_one_headline_can_carry_several_categories(engine):
    assert ids(engine, "Spy ship seen before missile strike; peace talks stall") == ["airstrike", "diplomacy", "espionage"]


def test_matched_terms_are_reported(engine):
    [m] = engine.classify("Russian missile strikes hit Kharkiv")
    assert m.severity == "high"
    assert set(m.matched) == {"missile strike*", "strike*", "russia*"}


def test_explain_gives_word_positions(engine):
    hits = engine.explain("Overnight, Russian missile strikes hit Kharkiv")
    found = {(h.term, h.field, h.word, h.words) for h in hits}
    assert ("missile strike*", "title", 2, ("missile", "strikes")) in found
    assert ("russia*", "title", 1, ("russian",)) in found


def test_words_fold_case_apostrophes_dashes_and_yo():
    assert words("Kyiv’s MISSILE—strike") == ["kyiv", "missile", "strike"]
    assert words("п’ять м'ясо") == ["п'ять", "м'ясо"]
    assert words("Всё ЁЖ") == ["все", "еж"]
    assert words("уда́р") == ["удар"]


@pytest.mark.parametrize("term", ["!!!", "*", "a*", "mis*sile", "  "])
def test_terms_that_cannot_match_are_refused(term):
    with pytest.raises(TermError):
        compile_term(term)


def test_fallback_agrees_with_automaton_on_real_headlines(tmp_path):
    from rules.loader import DEFAULT_RULES

    from tests.conftest import SHARED_HEADLINES as data

    if not data.exists():
        pytest.skip("shared headlines not present")
    fast = load_rules(DEFAULT_RULES, use_c=True).engine
    slow = load_rules(DEFAULT_RULES, use_c=False).engine
    lines = data.read_text(encoding="utf-8").splitlines()[:5000]
    for line in lines:
        assert fast.classify(line) == slow.classify(line), line


def _reference(cond, hits: set[int]) -> bool:
    """The meaning of any/all/none, with no index and no shortcut."""
    def holds(node) -> bool:  # type: ignore[no-untyped-def]
        return node in hits if isinstance(node, int) else _reference(node, hits)

    return ((not cond.any or any(holds(n) for n in cond.any))
            and all(holds(n) for n in cond.all)
            and not any(holds(n) for n in cond.none))


def test_conditions_agree_with_their_meaning_whatever_the_shortcuts():
    """The engine tests a condition only when a term of its smallest needed group is found, and
    nested `any` items through an index: on thousands of random nested conditions and headlines
    it must agree with the plain meaning of any/all/none."""
    import random

    from rules.engine import Cond

    rng = random.Random(14)

    def make(depth: int) -> Cond:
        def item():  # type: ignore[no-untyped-def]
            return rng.randrange(12) if depth == 0 or rng.random() < 0.6 else make(depth - 1)

        any_ = tuple(item() for _ in range(rng.randrange(0, 4)))
        all_ = tuple(item() for _ in range(rng.randrange(0 if any_ else 1, 3)))  # never empty, as the loader says
        return Cond(any=any_, all=all_, none=tuple(item() for _ in range(rng.randrange(0, 2))))

    checked = 0
    for _ in range(3000):
        cond = make(2)
        for _ in range(5):
            hits = {t for t in range(12) if rng.random() < 0.3}
            assert cond.test(hits) == _reference(cond, hits), (cond, hits)
            checked += cond.test(hits)
    assert checked > 100  # the conditions are not all unsatisfiable
