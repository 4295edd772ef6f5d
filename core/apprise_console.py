"""The quick start's channel: with no Apprise config, every alert is printed to the terminal.

It sits in the bottom layer because every reader of an Apprise config must know it: the
notifier delivers through it, and the stages that check alert rules' tags must see its tags.

`console://` is an Apprise plugin of our own (Apprise's custom-plugin decorator), so the console
goes through the same Apprise delivery, retries and delivery log as any real channel.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import apprise
from apprise import NotifyFormat

CONSOLE_URL = "console://"

_lock = threading.Lock()  # Apprise sends from worker threads; keep alerts from interleaving
_RULE = "─" * 72


@apprise.decorators.notify(on="console", name="Watchfloor console", body_format=NotifyFormat.TEXT)
def print_alert(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Writes one alert to stdout (looked up at call time, so redirection and capture work)."""
    out = sys.stdout
    with _lock:
        out.write(f"{_RULE}\n{title}\n{body}\n")
        out.flush()
    return True
