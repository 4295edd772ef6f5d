"""The geotagger as a watch officer relies on it: where each headline happened, in English,
Ukrainian and Russian, with the everyday words that are also place names left alone; and the
places on classified headlines, in alert rules (`where:`) and in alert texts."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import pytest

from tests.conftest import BIN, ROOT, SHARED_HEADLINES
from core.contracts import Alert, ClassifiedHeadline, Place, RawHeadline, StoryReport, read_message
from notifiers.format import Kind, render
from processors.classify import classify_headline
from rules.loader import RulesError, load_rules
from rules.places import tag
from rules.places.evaluate import load_english, load_written, score
from rules.routing import concerned_rules


def where(text: str, language: str | None = None) -> list[tuple[str, str, str]]:
    return [(p.name, p.kind, p.country) for p in tag(text, language=language)]


@pytest.mark.parametrize("text, language, expected", [
    ("Ракетний удар по Тернополю: десятки загиблих", "uk", ("Ternopil", "city", "UA")),
    ("Вночі у Тернополі лунали вибухи", "uk", ("Ternopil", "city", "UA")),
    ("Дрони атакували Одесу, є поранені", "uk", ("Odesa", "city", "UA")),
    ("В Одессе прогремели взрывы", "ru", ("Odesa", "city", "UA")),
    ("Обстріл Харкова: пошкоджено школу", "uk", ("Kharkiv", "city", "UA")),
    ("Засідання уряду в Києві", "uk", ("Kyiv", "city", "UA")),
    ("Ракета влучила в підприємство у Кривому Розі", "uk", ("Kryvyi Rih", "city", "UA")),
    ("У Миколаєві оголосили тривогу", "uk", ("Mykolaiv", "city", "UA")),
    ("В Курской области объявлена ракетная опасность", "ru", ("Kursk Oblast", "region", "RU")),
    ("Сили ППО збили дрони над Донеччиною", "uk", ("Donetsk Oblast", "region", "UA")),
    ("Shelling in the Donetsk region kills two", "en", ("Donetsk Oblast", "region", "UA")),
    ("Fighting rages near Pokrovsk", "en", ("Pokrovsk", "city", "UA")),
    ("IAEA team rotates at Enerhodar", "en", ("Enerhodar", "city", "UA")),
    ("Russia claims capture of Kupiansk", "en", ("Kupyansk", "city", "UA")),
    ("Бої за Часів Яр тривають", "uk", ("Chasiv Yar", "city", "UA")),
    ("Генштаб підтвердив ураження Саратовського НПЗ", "uk", ("Saratov", "city", "RU")),
    ("МАГАТЕ: Запорізька АЕС вдесяте втратила зовнішнє живлення", "uk", ("Zaporizhzhia Oblast", "region", "UA")),
    ("Над Саратовской, Воронежской областями сбиты 66 БПЛА", "ru", ("Voronezh Oblast", "region", "RU")),
    ("Вибухи в Донецьку", "uk", ("Donetsk", "city", "UA")),
    ("Генпрокуратура ФРН: Євген Б. фотографував завод Rheinmetall", "uk", ("Germany", "country", "DE")),
    ("Генпрокуратура ФРГ предъявила обвинение в шпионаже", "ru", ("Germany", "country", "DE")),
    ("IAEA team at Chornobyl reports drones near the site", "en", ("Kyiv Oblast", "region", "UA")),  # not Lazurnyi
    ("Пожежа в Чорнобильській зоні відчуження", "uk", ("Kyiv Oblast", "region", "UA")),
    ("Bulk carrier damaged in drone attack on Odessa port", "en", ("Odesa", "city", "UA")),  # not Odessa, Texas
    ("Moscow police release documents of University of Idaho murders", "en", ("Moscow", "city", "US")),
    ("Zaporizhzhia plant reconnected after IAEA-brokered repair truce", "en", ("Zaporizhzhia Oblast", "region", "UA")),
    ("IAEA: drones flew within a kilometre of Khmelnytskyi plant", "en", ("Khmelnytskyi Oblast", "region", "UA")),
])
def test_inflected_and_multilingual_names_find_their_place(text, language, expected):
    assert expected in where(text, language)


def test_one_place_has_one_id_in_every_language():
    ids = {p.id for text, lang in [("Missile strike on Ternopil", "en"), ("Ракетний удар по Тернополю", "uk"),
                                   ("Ракетный удар по Тернополю", "ru"), ("Тернополь: разбор завалов", "ru")]
           for p in tag(text, language=lang)}
    assert ids == {691650}


def test_a_named_facility_is_one_place_in_every_language_and_not_the_city_it_is_named_after():
    """rules/places/facility_names.yaml: the Zaporizhzhia plant is in its region (at Enerhodar),
    not the city of Zaporizhzhia; the Crimean bridge is at Kerch, not Krymsk in Russia."""
    plant = [where(text, lang) for text, lang in [
        ("Zaporizhzhia nuclear plant loses one of its two power lines", "en"), ("IAEA says ZNPP lost off-site power", "en"),
        ("На Запорізькій АЕС знову знеструмлення", "uk"), ("ЗАЕС на межі блекауту", "uk"),
        ("На Запорожской АЭС отключилась резервная линия", "ru")]]
    assert all(found == [("Zaporizhzhia Oblast", "region", "UA")] for found in plant), plant
    assert where("Russian strike on Zaporizhzhia kills three", "en") == [("Zaporizhzhia", "city", "UA")]
    # shown in Ukraine's national romanisation, the news's; GeoNames' older one still finds it
    assert where("Drones hit Zaporizhzhya overnight", "en") == [("Zaporizhzhia", "city", "UA")]
    assert where("Kursk NPP hit by a drone", "en") == [("Kursk Oblast", "region", "RU")]
    bridge = [where(text, lang) for text, lang in [("Explosions reported on the Crimean Bridge", "en"),
                                                    ("Вибухи на Кримському мосту", "uk"), ("Движение по Крымскому мосту перекрыто", "ru")]]
    assert all(found == [("Kerch", "city", "UA")] for found in bridge), bridge


def test_a_summary_names_its_places_in_the_titles_countries():
    """The summary tells more of the title's story: "near Tapa" under "Estonia's security police
    detain man …" is Tapa, Estonia (not the larger Tapa in India), and "prosecutors in Brest"
    under "French navy boards tanker off Brittany" is Brest, France (not Brest, Belarus)."""
    tapa = tag("Estonia's security police detain man accused of spying for Russian military intelligence",
               "The suspect, Andrei M., allegedly photographed NATO convoys near Tapa.")
    assert [(p.name, p.country) for p in tapa if p.kind == "city"] == [("Tapa", "EE")]
    brest = tag("French navy boards shadow-fleet tanker Moravia Crest off Brittany",
                "Prosecutors in Brest opened an inquiry into the vessel's flag and crew.")
    assert [(p.name, p.country) for p in brest if p.kind == "city"] == [("Brest", "FR")]


def test_a_city_in_a_neighbour_of_the_countries_named_beats_its_namesake_far_away():
    """"Приморск" is both Primorsk on the Gulf of Finland (Russia) and Prymorsk by the Sea of Azov
    (Ukraine). Under a title about Estonia's navy, neither is in the country named, but Russia
    borders Estonia: the tanker was bound for the Baltic port. Beside Zaporizhzhia it stays Ukraine's."""
    baltic = tag("ВМС Эстонии задержали танкер «Си Ларк» без флага", "Судно направлялось в Приморск.", "ru")
    assert [(p.name, p.country) for p in baltic if p.kind == "city"] == [("Primorsk", "RU")]
    azov = tag("Удар по Приморску в Запорожской области", "", "ru")
    assert [p.country for p in azov if p.kind == "city"] == ["UA"]


def test_places_are_toponyms_not_demonyms():
    assert where("Russian drones hit Kharkiv") == [("Kharkiv", "city", "UA")]
    assert where("Українські дрони атакували російські НПЗ", "uk") == []
    assert where("Ukrainian troops and Russian forces clash") == []


@pytest.mark.parametrize("text", ["Nice weather ahead for the weekend", "Reading list: ten books for the winter",
                                  "Mobile phone sales fall again", "Thanksgiving turkey prices soar",
                                  "Michael Jordan sells his house", "Bath time tips for new parents",
                                  "Kim Jong Un visits a factory", "Alaska Airlines cancels flights",
                                  "Rubio says more work to be done after talks",  # Rubio, Venezuela
                                  "Trump and Xi speak by phone, Xinhua reports",  # a news agency, and Chinese towns
                                  "Flows through the Druzhba pipeline resume",  # a pipeline, not Druzhba in Sumy region
                                  "Сийярто пообещал ответ на удар по нефтепроводу «Дружба»"])
def test_everyday_words_names_and_companies_are_left_alone(text):
    assert where(text) == []


def test_a_ukrainian_or_russian_given_name_before_a_surname_is_a_person_not_a_city():
    assert where("Володимир Зеленський зустрівся з делегацією США", "uk") == [("United States", "country", "US")]
    assert where("Владимир Путин провёл совещание", "ru") == []
    assert where("Вибухи у Володимирі: є влучання", "uk") == [("Volodymyr-Volynskyi", "city", "UA")]  # the city still is one


def test_oblasts_listed_before_one_plural_noun_are_oblasts_not_their_cities():
    """The defence ministries' nightly lists: "над Брянской, Белгородской и Курской областями".
    Курской, Курською are the oblast's adjective (the city declines Курска, Курске, Курском);
    alone, "Курская АЭС" too. The city keeps its own endings."""
    assert where("Минобороны: ночью над Брянской, Белгородской и Курской областями сбиты 57 беспилотников", "ru") == [
        ("Bryansk Oblast", "region", "RU"), ("Belgorod Oblast", "region", "RU"), ("Kursk Oblast", "region", "RU")]
    assert ("Saratov Oblast", "region", "RU") in where("За ночь над Саратовской, Воронежской областями и Краснодарским "
                                                       "краем сбиты 66 БПЛА", "ru")  # not Saratovskaya, a village there
    assert where("Збито безпілотники над Брянською та Курською областями", "uk") == [
        ("Bryansk Oblast", "region", "RU"), ("Kursk Oblast", "region", "RU")]
    # Ukrainian news writes Belgorod's oblast both ways
    assert where("Над Білгородською та Бєлгородською областями", "uk") == [("Belgorod Oblast", "region", "RU")]
    assert where("Дроны атаковали Курск", "ru") == where("В Курске горит склад", "ru") == [("Kursk", "city", "RU")]
    assert where("Вибухи в Курську", "uk") == [("Kursk", "city", "RU")] and where("У Донецьку вибухи", "uk")[0][0] == "Donetsk"
    # a city whose name is itself an adjective keeps its masculine endings; the oblast is feminine
    khmelnytskyi = [("Khmelnytskyi", "city", "UA")]
    assert where("Вибухи у Хмельницькому", "uk") == where("Удар по Хмельницкому", "ru") == khmelnytskyi
    assert where("Жители Хмельницкого эвакуированы", "ru") == khmelnytskyi
    assert where("Над Хмельницькою та Рівненською областями збито дрони", "uk")[0] == ("Khmelnytskyi Oblast", "region", "UA")
    # a far country's region named by an everyday adjective stays out ("Північна" is Uganda's Northern Region)
    assert not [p for p in where("Суд в Італії погодив видачу підозрюваного у підриві «Північних потоків»", "uk")
                if p[1] == "region"]


def test_a_headline_opens_inflected_only_with_a_country_or_a_watched_region():
    # "Мер" (mayor) is Меру, a county of Kenya, less its last vowel; "Північні" (Nordic) Uganda's Northern Region
    assert where("Мер Києва Кличко повідомив про пожежу", "uk") == [("Kyiv", "city", "UA")]
    assert where("Північні та балтійські країни профінансують пакет PURL", "uk") == []
    assert where("Херсонщину обстріляли з артилерії", "uk") == [("Kherson Oblast", "region", "UA")]
    assert where("Росію звинуватили у вбивстві", "uk") == [("Russia", "country", "RU")]


def test_a_given_name_before_a_surname_is_a_person_but_before_its_country_a_place():
    # Omer Neutra, a hostage, is not 'Omer, the town near Beersheba; "Omer, Israel" is the town
    assert where("Hamas hands over remains of 3 hostages; one confirmed as Omer Neutra") == []
    assert ("‘Omer", "city", "IL") in where("Rocket hits Omer, Israel")
    assert ("‘Omer", "city", "IL") in where("Clashes near Omer in southern Israel")


def test_a_surname_in_the_news_is_not_a_city_it_declines_like():
    # John Healey, UK defence secretary, declines like Al Hillah, Iraq ("Хила")
    assert where("Лондон опять пугает «Янтарём»: Хили рассказал о лазерах", "ru") == [("London", "city", "GB")]
    assert where("Посольство России назвало заявления Хили о «Янтаре» истерией", "ru") == [("Russia", "country", "RU")]
    assert where("Взрыв в Хиле: погибли пятеро", "ru") == [("Al Hillah", "city", "IQ")]  # the city still is one


def test_a_foreign_name_declines_only_as_such_a_name_does():
    # Ukrainian and Russian words that look like far-away cities declined: Карно (Carnot) and Мири
    # (Miri) end in a vowel, so they do not decline; Багата (Bogotá) takes no vocative "-о",
    # Кіта (Quito) no masculine "-ом", Ест (Est, Burkina Faso) no soft sign
    assert where("Зеленський і Карні провели зустріч у Києві", "uk") == [("Kyiv", "city", "UA")]
    assert where("В «Мире танков» появится режим с артиллерийскими ударами", "ru") == []
    assert where("Совещание с постоянными членами Совета Безопасности", "ru") == []
    assert ("Bogotá", "city", "CO") not in where("Росіяни скинули авіабомбу на Ярову. Багато загиблих", "uk")
    assert ("Quito", "city", "EC") not in where("Зеленський зустрівся зі спецпосланцем США Кітом Келлогом", "uk")
    assert where("Белов: «Есть движение, но разногласия остаются»", "ru") == []
    # declined as such names are, far-away cities are still found
    assert where("Вибух у Боготі: є загиблі", "uk") == [("Bogotá", "city", "CO")]
    assert where("Беспилотники поразили электростанцию в Хартуме", "ru") == [("Khartoum", "city", "SD")]
    assert where("Переговори у Досі завершилися", "uk") == [("Doha", "city", "QA")]
    assert where("МКС розслідує масові вбивства в Ель-Фашері", "uk") == [("El Fasher", "city", "SD")]
    # a name of the countries these languages are spoken in declines by their own rules
    assert where("Удар по Дніпру: є поранені", "uk") == [("Dnipro", "city", "UA")]


def test_a_name_ending_in_short_i_is_found_uninflected_too():
    # Китай's stem drops its й (Китаю, Китаї); the nominative must find it as well
    assert where("Китай ввёл санкции против американских компаний", "ru") == [("China", "country", "CN")]
    assert where("Делегація вирушила в Китай", "uk") == [("China", "country", "CN")]
    assert where("Краснодарский край: атака дронов", "ru") == [("Krasnodar Krai", "region", "RU")]
    assert where("Переговоры в Дубае", "ru") == [("Dubai", "city", "AE")]


def test_a_short_name_in_guillemets_is_a_things_not_a_towns():
    # clubs, submarines, power lines, exercises: named after towns, found nowhere near them
    assert where("Обмен игроками: «Динамо» и «Краснодар» договорились о сделке", "ru") == []
    assert where("ВМС Норвегии сопровождали российскую подлодку «Новороссийск» у побережья", "ru") == [("Norway", "country", "NO")]
    assert where("ЗАЕС втратила лінію «Дніпровська»", "uk") == [("Zaporizhzhia Oblast", "region", "UA")]
    assert ("Province de l'Ouest", "region", "CM") not in where("У Білорусі стартували навчання «Захід-2025»", "uk")
    # a quotation is somebody's words, whose places are places; a watched region or a plant at its town still is one
    assert ("Moscow", "city", "RU") in where("Путин в Анкоридже: «Следующий раз — в Москве»", "ru")
    assert where("В так называемой «ДНР» объявили мобилизацию", "ru") == [("Donetsk Oblast", "region", "UA")]
    assert where("Беспилотники атаковали «Невинномысский Азот»", "ru") == [("Nevinnomyssk", "city", "RU")]
    assert ("Unecha", "city", "RU") in where("Прокачка нефти остановлена после удара по НПС «Унеча»", "ru")


def test_streets_stations_and_a_citys_districts_are_not_the_towns_they_are_named_after():
    assert where("Уламки впали на вулиці Гагаріна у Дніпрі", "uk") == [("Dnipro", "city", "UA")]
    assert where("СБУ запобігла теракту на Центральному вокзалі столиці", "uk") == []
    assert where("Взрыв на Киевском вокзале в Москве", "ru") == [("Moscow", "city", "RU")]
    assert where("Удар по Київському району Харкова: є поранені", "uk") == [("Kharkiv", "city", "UA")]


def test_a_citys_district_a_name_as_written_and_a_doubled_consonant():
    # a town's adjective before "район" beside another city is that city's district; alone, the raion around the town
    assert where("Удар по Одессе: в Приморском районе повреждено здание университета", "ru") == [("Odesa", "city", "UA")]
    assert where("Унаслідок атаки на Білгород-Дністровський район пошкоджено будинки", "uk") == [
        ("Bilhorod-Dnistrovskyi", "city", "UA")]
    # the named city's own district stays, and two districts named together are no other city for each other
    assert where("Київ атакують балістика і дрони. Влучання у Дарницькому районі", "uk") == [
        ("Kyiv", "city", "UA"), ("Darnytsia", "city", "UA")]
    assert ("Dniprovskyi", "city", "UA") in where("Наслідки атаки у Деснянському та Дніпровському районах", "uk")
    # a name as written beats one read through a case ending: Майами is Miami, not Майя
    assert ("Miami", "city", "US") in where("Уиткофф и Дмитриев обсудили в Майами мирный план", "ru")
    # Ukrainian doubles a consonant before -ю: з Білоруссю
    assert ("Belarus", "country", "BY") in where("Польща посилить охорону кордону з Білоруссю", "uk")
    # Kyiv's adjective names the city's things, not the town Kievskiy
    assert where("Киевский режим совершил атаку на аэродромы", "ru") == []


def test_a_city_named_by_an_adjective_keeps_its_gender_and_number_when_declined():
    # Nord Stream's pipelines and Sevastopol's north side are no towns called Северный or Північне
    assert where("В Италии задержан подозреваемый в подрыве «Северных потоков»", "ru") == [("Italy", "country", "IT")]
    assert where("Суд в Італії погодив видачу підозрюваного у підриві «Північних потоків»", "uk") == [("Italy", "country", "IT")]
    assert where("ПВО отражает атаку на Севастополь, есть прилет на Северной стороне", "ru") == [("Sevastopol", "city", "UA")]
    # an everyday adjective in a town's own gender is the adjective, unless the text says it is a place
    assert where("Мирний план США: що відомо", "uk") == [("United States", "country", "US")]
    assert where("Польский суд отказал в экстрадиции подозреваемого в подрыве «Северного потока»", "ru") == []
    assert where("У Мирному пролунали вибухи", "uk") == [("Myrnyi", "city", "UA")]
    # nor does an adjective stand bare: "в Приморск" is a Primorsk, not the town Приморский
    assert ("Primorskyi", "city", "UA") not in where("Судно направлялось в Приморск", "ru")
    # the same names declined in their own gender, and a region's adjective with any noun, still are places
    assert where("У Хмельницькому пролунали вибухи", "uk") == [("Khmelnytskyi", "city", "UA")]
    assert where("Вибухи над Волгоградською областю", "uk") == [("Volgograd Oblast", "region", "RU")]


def test_a_common_word_is_a_place_when_the_text_says_so():
    assert ("Nice", "city", "FR") in where("Knife attack in Nice leaves three injured")
    assert ("Turkey", "country", "TR") in where("Turkey says it will host new round of talks")


def test_disambiguation_by_context_kind_and_population():
    assert ("Georgia", "country", "GE") in where("Protesters rally in Tbilisi as Georgia's parliament meets")
    assert where("Talks in Washington end without a deal")[0] == ("Washington", "city", "US")
    assert where("Pokrovsk: Russian forces advance")[0][2] == "UA"
    assert where("Drones hit Pokrovsk, Donetsk region")[:2] == [("Pokrovsk", "city", "UA"),
                                                                  ("Donetsk Oblast", "region", "UA")]


def test_most_specific_first_each_once():
    places = where("Poland says Warsaw–Lublin line blast in Poland was sabotage; Lublin police detain two")
    assert places == [("Warsaw", "city", "PL"), ("Lublin", "city", "PL"), ("Poland", "country", "PL")]


def _report(s) -> str:  # type: ignore[no-untyped-def]
    return " ".join(f"{k} P={s.precision(k):.3f} R={s.recall(k):.3f}" for k in ("all", "city", "region", "country"))


def test_written_ukrainian_and_russian_held_out_half():
    rows = [r for r in load_written(ROOT / "tests" / "data" / "places_ukru.jsonl") if r.split == "test"]
    s = score(rows)
    assert len(rows) >= 90
    for lang in ("uk", "ru"):
        assert s.f1(lang) >= 0.90, f"{lang}: F1 {s.f1(lang):.3f}; {_report(s)}\n" + "\n".join(s.errors)


def test_a_probe_of_hard_ukrainian_and_russian_headlines_does_not_fall_back():
    """A guard on tests/data/places_ukru_probe.jsonl's test half: 0.867 F1 at the session's start,
    0.930 after its fixes (docs/places.md)."""
    rows = [r for r in load_written(ROOT / "tests" / "data" / "places_ukru_probe.jsonl") if r.split == "test"]
    s = score(rows)
    assert len(rows) == 120
    assert s.f1("all") >= 0.90, f"F1 {s.f1('all'):.3f}; {_report(s)}\n" + "\n".join(s.errors)


def test_real_english_headlines_held_out_half():
    if not SHARED_HEADLINES.exists():
        pytest.skip("shared headlines not present")
    rows = [r for r in load_english(ROOT / "tests" / "data" / "places_en.jsonl", SHARED_HEADLINES) if r.split == "test"]
    s = score(rows)
    assert len(rows) >= 180
    assert s.precision() >= 0.88 and s.recall() >= 0.88, _report(s) + "\n" + "\n".join(s.errors)


# --- places on messages, in alert rules and in alert texts -------------------------------------------

NOW = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)
RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any: ["missile strike*", "ракетн* удар*", "drone attack*"]
alerts:
  - id: west-ukraine
    when:
      categories: [airstrike]
      where:
        regions: [Ternopil Oblast, Lviv Oblast]
    notify: [west]
  - id: gdansk-port
    when:
      categories: [airstrike]
      where:
        near: [{lat: 54.40, lon: 18.66, km: 30, name: Port of Gdansk}]
    notify: [baltic]
  - id: russia
    when:
      categories: [airstrike]
      where:
        countries: [RU]
        places: [Kursk]
    notify: [east]
"""


def raw(title: str, language: str = "en") -> RawHeadline:
    return RawHeadline(id=title[:16], feed_id="f", source="Wire", title=title, fetched=NOW, language=language)


def test_classified_headline_carries_places_and_rules_route_by_them(tmp_path):
    (tmp_path / "r.yaml").write_text(RULES)
    ruleset = load_rules(tmp_path)
    west = classify_headline(raw("Ракетний удар по Тернополю", "uk"), ruleset)
    assert [p.name for p in west.places] == ["Ternopil"]
    assert json.loads(west.to_bytes())["schema"] == "headline.classified/2"
    assert [r.id for r in concerned_rules(ruleset, west)] == ["west-ukraine"]
    gdynia = classify_headline(raw("Drone attack on Gdynia shipyard"), ruleset)  # 20 km from the port
    assert [r.id for r in concerned_rules(ruleset, gdynia)] == ["gdansk-port"]
    belgorod = classify_headline(raw("Missile strike on Belgorod"), ruleset)
    assert [r.id for r in concerned_rules(ruleset, belgorod)] == ["russia"]
    nowhere = classify_headline(raw("Missile strike reported"), ruleset)
    assert concerned_rules(ruleset, nowhere) == []


def test_a_version_1_classified_headline_is_still_read():
    doc = json.loads(classify_headline(raw("Missile strike on Lviv"), load_rules(None)).to_bytes())
    doc["schema"] = "headline.classified/1"
    del doc["places"]
    old = read_message(doc)
    assert isinstance(old, ClassifiedHeadline) and old.places == []


def test_rules_check_names_unknown_places_with_file_and_line(tmp_path):
    (tmp_path / "r.yaml").write_text(RULES.replace("Lviv Oblast", "Lvov Oblastt").replace("[RU]", "[RU, Narnia]"))
    with pytest.raises(RulesError) as err:
        load_rules(tmp_path)
    text = str(err.value)
    lines = RULES.splitlines()
    assert f"r.yaml:{next(i for i, l in enumerate(lines, 1) if 'Lviv Oblast' in l)}: alert 'west-ukraine': unknown region 'Lvov Oblastt'" in text
    assert "unknown country 'Narnia'" in text


def test_rules_test_shows_the_places_found(tmp_path):
    (tmp_path / "r.yaml").write_text(RULES)
    out = subprocess.run([str(BIN / "watchfloor"), "rules", "test", "Ракетний удар по Тернополю", "--rules", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert "places: Ternopil, Ukraine (city, GeoNames 691650)" in out.stdout


def test_alerts_name_the_place_and_link_to_a_map():
    ternopil = Place(id=691650, name="Ternopil", kind="city", country="UA", admin1="22", lat=49.55404, lon=25.59067)
    alert = Alert(id="a1", rule_id="west-ukraine", severity="high", group_by="story", group="s1", story_id="s1",
                  title="Missile strike on Ternopil", categories=["airstrike"], places=[ternopil],
                  reports=[StoryReport(headline_id="h1", source="Wire", title="Missile strike on Ternopil")],
                  source_count=1, first_seen=NOW, fired=NOW, notify=["west"], rules_version="t")
    osm = "https://www.openstreetmap.org/?mlat=49.5540&mlon=25.5907#map=11/49.5540/25.5907"
    for kind in (Kind.SLACK, Kind.EMAIL, Kind.TEXT):
        body = render(alert, kind).body
        assert "Ternopil, Ukraine" in body and osm.replace("&", "&amp;" if kind is Kind.EMAIL else "&") in body
    assert "Where: [Ternopil, Ukraine](<" + osm + ">)" in render(alert, Kind.SLACK).body


def test_one_cut_into_words_serves_rules_and_places():
    """The classify step cuts a headline once: its folded words must be what the rules engine cuts."""
    from rules.places.forms import tokens_with_case
    from rules.text import words

    texts = [json.loads(line).get("title", "") for line in (ROOT / "tests" / "data" / "labelled.jsonl").read_text().splitlines() if line.strip()]
    texts += [json.loads(line)["text"] for line in (ROOT / "tests" / "data" / "places_ukru.jsonl").read_text().splitlines()]
    texts += ["ЁЛКА на Ёлочной", "Kyiv’s mayor — “don't”", "STRASSE Straße ﬁnal", "Zaporizhzhia-plant", "İstanbul talks"]
    assert words("İstanbul talks") == ["istanbul", "talks"]
    assert [t for t in texts if words(t) != [f for _, f in tokens_with_case(t)]] == []


def test_rules_eval_places_scores_the_tagger_and_names_a_missing_headlines_file():
    wf = str(BIN / "watchfloor")
    ok = subprocess.run([wf, "rules", "eval-places", str(ROOT / "tests" / "data" / "places_ukru.jsonl"), "--split", "test"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    rows = {line.split()[0]: line.split()[1:] for line in ok.stdout.splitlines()[2:] if line.split() and line[0] != " "}
    assert {"all", "city", "region", "country", "uk", "ru"} <= set(rows)
    assert float(rows["uk"][2]) >= 0.9 and int(rows["all"][3]) >= 100  # F1 and places labelled
    bad = subprocess.run([wf, "rules", "eval-places", str(ROOT / "tests" / "data" / "places_en.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "give the headlines file" in bad.stderr and "Traceback" not in bad.stderr


def test_where_names_a_cyrillic_place_as_written_and_refuses_an_empty_where(tmp_path):
    rules = RULES.replace("regions: [Ternopil Oblast, Lviv Oblast]", 'places: [Покровськ, "691650"]')
    (tmp_path / "r.yaml").write_text(rules)
    ruleset = load_rules(tmp_path)
    pokrovsk = classify_headline(raw("Missile strike on Pokrovsk"), ruleset)
    pokrovske = classify_headline(raw("Missile strike on Pokrovske"), ruleset)  # another town, same stem
    ternopil = classify_headline(raw("Missile strike on Ternopil"), ruleset)  # by its id, quoted
    assert [r.id for r in concerned_rules(ruleset, pokrovsk)] == ["west-ukraine"]
    assert [p.name for p in pokrovske.places] == ["Pokrovske"] and concerned_rules(ruleset, pokrovske) == []
    assert [r.id for r in concerned_rules(ruleset, ternopil)] == ["west-ukraine"]
    (tmp_path / "r.yaml").write_text(RULES.replace("where:\n        regions: [Ternopil Oblast, Lviv Oblast]", "where: {}"))
    with pytest.raises(RulesError) as err:
        load_rules(tmp_path)
    assert "could never fire" in str(err.value)


def test_place_names_in_alert_texts_are_cleaned_like_feed_text():
    odd = Place(id=1, name="Kyiv\n\n<!here> \u202e\x1b[31m" + "A" * 5000, kind="city", country="UA", lat=50.4, lon=30.5)
    alert = Alert(id="a2", rule_id="r", severity="high", group_by="story", group="s", story_id="s", title="t",
                  categories=["airstrike"], places=[odd], reports=[], source_count=1, first_seen=NOW, fired=NOW,
                  notify=["x"], rules_version="t")
    for kind in (Kind.SLACK, Kind.TEXT, Kind.EMAIL):
        where_line = next(line for line in render(alert, kind).body.split("\n") if "Kyiv" in line)
        assert "\x1b" not in where_line and "\u202e" not in where_line and len(where_line) < 1000
        if kind is not Kind.TEXT:  # escaped where it would be markup
            assert "<!here>" not in where_line


def test_the_facility_file_names_each_form_once_and_every_place_exists():
    import yaml

    from rules.places.gazetteer import FACILITY_NAMES, gazetteer

    data = yaml.safe_load(FACILITY_NAMES.read_text(encoding="utf-8"))["facilities"]
    forms = [f.casefold() for facility in data for lang in ("en", "uk", "ru") for f in facility.get(lang, [])]
    assert len(forms) == len(set(forms)), sorted(f for f in set(forms) if forms.count(f) > 1)
    gaz = gazetteer()
    assert all((gaz.regions.get(f["place"]) if isinstance(f["place"], str) else gaz.by_id.get(f["place"])) for f in data)


def test_the_druzhba_oil_pipeline_is_no_town_when_its_country_is_named():
    """Druzhba is also a town in Sumy region; a pipeline named with "oil" or "gas" before
    "pipeline", and Ukraine named beside it, put the strike in Sumy region."""
    assert where("Ukraine hits Druzhba oil pipeline in Bryansk region") == [
        ("Bryansk Oblast", "region", "RU"), ("Ukraine", "country", "UA")]
    assert ("Khutir-Mykhaylivskyi", "city", "UA") in where("Drone attack on Druzhba, Sumy region, injures two")


def test_a_ships_name_after_its_kind_is_no_place_and_a_gulf_is_no_province():
    """Tankers and submarines are named after places ("Arcadia Wind", «Мира Селена», the submarine
    Novorossiysk); the Gulf of Finland and "Gulf states" are not Gulf Province, Papua New Guinea.
    A country after a ship word is the next clause's actor and stays."""
    assert where("Finland detains tanker Arcadia Wind after Gulf of Finland cable outage") == [("Finland", "country", "FI")]
    assert where("Шведская береговая охрана задержала судно «Мира Селена»", "ru") == []
    assert where("Russian submarine Novorossiysk sails through the Channel") == []
    assert where("Strike on Novorossiysk port damages tanker") == [("Novorossiysk", "city", "RU")]
    assert where("Gulf leaders call on Trump to rein in Israel") == [("Israel", "country", "IL")]
    assert ("Ukraine", "country", "UA") in where("With attacks on oil tankers, Ukraine takes aim at war financing")
    assert where("Судно прямувало з російського порту Усть-Луга", "uk") == []  # not Louga, Senegal


def test_an_acronym_country_is_an_actor_and_chooses_no_city():
    """"US officials" say who, not where: Geneva stays in Switzerland and Odesa in Ukraine beside
    "US"; a state beside "US" is still the US state."""
    assert ("Geneva", "city", "CH") in where("US, Ukrainian officials to meet in Geneva on peace plan")
    assert where("Russian strike on Odesa kills 8 as US hosts a Kremlin envoy")[0] == ("Odesa", "city", "UA")
    assert ("Virginia", "region", "US") in where("US attorney in eastern Virginia resigns")
    assert ("Geneva", "city", "US") in where("Tornado hits Geneva, Illinois")  # a state named: the US town


def test_city_forms_geonames_lacks():
    """rules/places/city_names.yaml: Ukrainian spellings of Russian towns, forms whose vowel
    drops when declined, Kyiv's administrations; each form once, every city in the gazetteer."""
    import yaml

    from rules.places.gazetteer import CITY_NAMES, gazetteer

    assert where("Дрони атакували порт у Новоросійську", "uk")[0] == ("Novorossiysk", "city", "RU")
    assert where("Сибіга на засіданні ОБСЄ у Відні", "uk")[0] == ("Vienna", "city", "AT")
    assert where("Беспилотники атаковали нефтебазу в Орле", "ru")[0][0] == "Orël"
    assert where("Учения в Балтийском море", "ru") == [] and where("Навчання в Балтійському морі", "uk") == []
    # the city's administration cited for its news: the toll's follow-up names no other place
    assert where("Зросла кількість загиблих до шести, серед них дитина — КМВА", "uk") == [("Kyiv", "city", "UA")]
    assert where("КГВА: повреждены жилые дома", "ru") == [("Kyiv", "city", "UA")]
    data = yaml.safe_load(CITY_NAMES.read_text(encoding="utf-8"))["cities"]
    forms = [(lang, f.casefold()) for city in data for lang in ("en", "uk", "ru") for f in city.get(lang, [])]
    assert len(forms) == len(set(forms)), sorted(f for f in set(forms) if forms.count(f) > 1)
    gaz = gazetteer()
    assert all(gaz.by_id.get(c["place"]) for c in data)


def test_a_storms_name_is_no_town():
    """"Hurricane Melissa" is a storm, not Hurricane, Utah; "Hurricane-Ravaged Jamaica" is Jamaica."""
    assert where("Number of dead in Jamaica due to Hurricane Melissa rises to 28") == [("Jamaica", "country", "JM")]
    assert where("Communities in Hurricane-Ravaged Jamaica Still Cut Off") == [("Jamaica", "country", "JM")]
    assert where("What has changed 20 years on from Hurricane Katrina?") == []


@pytest.mark.parametrize("text, language, town", [
    ("Генштаб підтвердив ураження Волгоградського НПЗ", "uk", "Volgograd"),
    ("Пожар на Туапсинском НПЗ потушен, пострадавших нет", "ru", "Tuapse"),
    ("Дроны атаковали Рязанский нефтеперерабатывающий завод", "ru", "Ryazan’"),
    ("Удар по Новокуйбышевскому НПЗ: загорелась установка", "ru", "Novokuybyshevsk"),
    ("Дрони вразили Кременчуцький нафтопереробний завод", "uk", "Kremenchuk"),
])
def test_a_refinery_named_by_its_towns_adjective_is_at_that_town(text, language, town):
    """Ukrainian and Russian name a refinery by its town's adjective, which is also its oblast's
    (Волгоградська область) or another town's (Рязанский, a village): the refinery is at its town,
    as "Volgograd refinery" is in English, so the strike is that town's news in every language."""
    assert where(text, language) == [(town, "city", "RU" if town != "Kremenchuk" else "UA")]


def test_a_name_written_with_its_own_letters_is_the_place_it_names_first():
    """"Jarosław" with its ł is the Polish town: Polish also calls Yaroslavl so (an alternate name
    of the Russian city, ten times larger), but a headline that writes the Polish letters writes
    the town's own name. Without them the larger city still wins on size alone."""
    assert where("Blast damages rail line near Jarosław on key route to Ukrainian border", "en") == [
        ("Jarosław", "city", "PL")]
    assert where("Drone attack on Yaroslavl refinery", "en") == [("Yaroslavl", "city", "RU")]


def test_a_name_after_a_military_rank_is_a_surname_not_a_town():
    """"сержанта Бекова" is a sergeant named Bekov, not the town Bekovo; so with his first name
    between ("сержанта Руслана Бекова"), and "Sergeant … Radford" is no Radford, Virginia."""
    assert where("Российского сержанта Бекова на Украине заочно приговорили к пожизненному", "ru") == [
        ("Ukraine", "country", "UA")]
    assert where("Суд заочно засудив до довічного російського сержанта Руслана Бекова", "uk") == []
    assert where("Shooting victim was Sergeant Quornelius Radford's partner", "en") == []
