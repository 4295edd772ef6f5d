from core.text import cap, clean, strip_html


def test_html_is_stripped_and_entities_decoded():
    assert clean("<p>Strike on <b>Kharkiv</b> &amp; Sumy</p>", 100) == "Strike on Kharkiv & Sumy"


def test_script_bodies_never_survive():
    assert clean("Headline<script>alert('x')</script><style>p{}</style> end", 100) == "Headline end"


def test_control_and_bidi_characters_removed():
    assert clean("Kyiv\x00\x07 under\u202e attack\u200b now", 100) == "Kyiv under attack now"


def test_whitespace_collapsed_and_nfc():
    assert clean("  Zaporizhzhia\n\n\tplant  ", 100) == "Zaporizhzhia plant"
    assert clean("Cafe\u0301", 100) == "Café"


def test_cap_cuts_on_word_boundary_with_ellipsis():
    text = "word " * 100
    capped = cap(text.strip(), 50)
    assert len(capped) <= 50 and capped.endswith("…") and not capped.endswith(" …")


def test_plain_text_passes_through_unchanged():
    assert strip_html("No tags here, 5 > 3") == "No tags here, 5 > 3"
