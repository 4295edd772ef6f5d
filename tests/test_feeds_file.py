"""The feeds file as operators write it (YAML) or export it from a feed reader (OPML): every problem
as FILE:LINE, and `watchfloor feeds export`/`check`. No broker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.feeds import SAMPLE_FEEDS, Feed, load_feeds
from watchfloor.cli_feeds import feeds_app
from core.settings import ConfigError

BAD_YAML = """\
defaults:
  interval: -1
feeds:
  - id: a
    url: https://a.example/rss
  - id: b
    url: ftp://b.example/rss
  - id: a
    url: https://a2.example/rss
    intervall: 5
  - just a string
  - url: https://c.example/rss
colour: blue
"""

OPML = """\
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader export</title></head>
  <body>
    <outline text="Ukraine" title="Ukraine">
      <outline type="rss" text="Kyiv Wire" title="Kyiv Wire" xmlUrl="https://kyiv.example/rss" language="uk"
               category="/War/Front,Breaking"/>
      <outline type="rss" text="Kyiv Wire" xmlUrl="https://kyiv-mirror.example/rss"/>
      <outline type="rss" text="Поділля Інфо" xmlUrl="https://podillia.example/feed.xml"/>
    </outline>
    <outline type="rss" text="Night Desk" xmlUrl="file:night.rss.xml" id="night" interval="30"/>
  </body>
</opml>
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    return str(info.value).splitlines()


def test_every_problem_of_a_yaml_feeds_file_is_reported_with_its_line(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(BAD_YAML)
    assert problems_of(path) == [
        f"{path}:2: defaults: interval: Input should be greater than 0",
        f"{path}:7: feeds[1] (b): url: Value error, url must start with http://, https:// or file:",
        f"{path}:8: feeds[2] (a): duplicate feed id 'a' (first at line 4)",
        f"{path}:10: feeds[2] (a): unknown key 'intervall' (did you mean 'interval'?)",
        f"{path}:11: feeds[3]: expected a mapping (id, url, ...)",
        f"{path}:12: feeds[4]: id: required key missing",
        f"{path}:13: unknown top-level key 'colour' (expected defaults, feeds)",
    ]


def test_a_missing_file_and_a_yaml_syntax_error_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert problems_of(missing) == [f"{missing}: cannot read feeds file: No such file or directory"]
    broken = tmp_path / "feeds.yaml"
    broken.write_text("feeds:\n  - id: a\n    url: [unclosed\n")
    (line,) = problems_of(broken)
    assert line.startswith(f"{broken}:") and "not valid YAML" in line
    repeated = tmp_path / "twice.yaml"
    repeated.write_text("feeds:\n  - id: a\n    url: https://a.example/\n    id: b\n")
    assert problems_of(repeated) == [f"{repeated}:4: duplicate key 'id' (first at line 2)"]


def test_an_opml_export_loads_with_folders_and_categories_as_tags(tmp_path):
    path = tmp_path / "subscriptions.opml"
    path.write_text(OPML, encoding="utf-8")
    feeds = {f.id: f for f in load_feeds(path)}
    assert list(feeds) == ["kyiv-wire", "kyiv-wire-2", "podillia-example-feed-xml", "night"]
    kyiv = feeds["kyiv-wire"]
    assert (kyiv.url, kyiv.source, kyiv.language) == ("https://kyiv.example/rss", "Kyiv Wire", "uk")
    assert kyiv.tags == ["Ukraine", "War", "Front", "Breaking"]
    assert feeds["kyiv-wire-2"].tags == ["Ukraine"] and feeds["kyiv-wire-2"].language is None
    assert feeds["podillia-example-feed-xml"].source == "Поділля Інфо"  # no ASCII in the title: id from the URL
    night = feeds["night"]
    assert night.url == f"file:{tmp_path / 'night.rss.xml'}" and night.interval == 30 and night.tags == []


def test_opml_is_recognised_by_content_whatever_the_name(tmp_path):
    path = tmp_path / "feeds.list"
    path.write_text(OPML, encoding="utf-8")
    assert len(load_feeds(path)) == 4


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<outline text="Folder">\n<outline text="Stray"/>\n</outline>', [":5: outline without xmlUrl: 'Stray'"]),
        ('<outline text="Bad" xmlUrl="ftp://x.example/"/>', [":4: outline (bad): url: Value error, url must start with http://"]),
        ('<outline text="A" xmlUrl="https://a.example/" id="x"/>\n<outline text="B" xmlUrl="https://b.example/" id="x"/>',
         [":5: outline (x): duplicate feed id 'x' (first at line 4)"]),
        ('<outline text="Open" xmlUrl="https://a.example/">\n</body>', [":5: not well-formed XML: mismatched tag"]),
    ],
)
def test_opml_problems_name_the_line(tmp_path, body, expected):
    path = tmp_path / "feeds.opml"
    path.write_text(f'<?xml version="1.0"?>\n<opml version="2.0">\n<body>\n{body}\n</body>\n</opml>\n')
    lines = problems_of(path)
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected):
        assert line.startswith(f"{path}{want}"), line


def test_opml_with_a_dtd_or_entities_is_refused_unexpanded(tmp_path):
    laughs = tmp_path / "laughs.opml"
    laughs.write_text('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
                      '<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/"/></body></opml>\n')
    assert problems_of(laughs) == [f"{laughs}:2: DOCTYPE and entity declarations are not allowed in a feeds file"]
    external = tmp_path / "external.xml"
    external.write_text('<?xml version="1.0"?>\n<!DOCTYPE opml SYSTEM "file:///etc/passwd">\n<opml><body/></opml>\n')
    assert problems_of(external) == [f"{external}:2: DOCTYPE and entity declarations are not allowed in a feeds file"]
    rss = tmp_path / "feeds.xml"
    rss.write_text('<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>\n')
    assert problems_of(rss) == [f"{rss}:2: root element is <rss>, expected <opml> (an OPML feeds file)"]


def test_export_round_trips_through_load_feeds(tmp_path):
    source = tmp_path / "feeds.yaml"
    source.write_text(
        "defaults: {interval: 60}\nfeeds:\n"
        "  - {id: markets, url: 'https://m.example/rss?a=1&b=2', source: 'Business & \"Markets\" <EU>', tags: [economy, EU]}\n"
        "  - {id: local, url: 'file:samples/x.rss.xml', source: Local, language: uk, retries: 0, max_bytes: 1000}\n"
    )
    out = tmp_path / "export.opml"
    result = CliRunner().invoke(feeds_app, ["export", "--feeds", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert 'category="economy,EU"' in out.read_text() and 'type="rss"' in out.read_text()
    assert load_feeds(out) == load_feeds(source)


def test_export_defaults_to_watchfloor_feeds_and_stdout(tmp_path):
    result = CliRunner().invoke(feeds_app, ["export"], env={"WATCHFLOOR_FEEDS": str(SAMPLE_FEEDS)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    copy = tmp_path / "samples.opml"
    copy.write_text(result.stdout, encoding="utf-8")
    assert load_feeds(copy) == load_feeds(SAMPLE_FEEDS)
    assert all(isinstance(f, Feed) and f.source for f in load_feeds(copy))


def test_export_of_a_missing_file_is_one_error_line_and_exit_2(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(feeds_app, ["export", "--feeds", str(missing)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: cannot read feeds file: No such file or directory\n"
    assert result.stdout == ""


def test_check_says_ok_or_lists_every_problem(tmp_path):
    ok = CliRunner().invoke(feeds_app, ["check", "--feeds", str(SAMPLE_FEEDS)])
    assert ok.exit_code == 0 and ok.stdout.startswith(f"ok: {len(load_feeds(SAMPLE_FEEDS))} feeds")
    bad = tmp_path / "feeds.yaml"
    bad.write_text(BAD_YAML)
    result = CliRunner().invoke(feeds_app, ["check", "--feeds", str(bad)])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 7 and all(line.startswith(f"{bad}:") for line in result.stderr.splitlines())
