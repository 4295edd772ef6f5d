"""Apprise URLs hold tokens and passwords. Everything that leaves the notifier (logs, dead letters,
the delivery log, metrics) names a channel by tag and Apprise's privacy URL, and any text that
comes out of Apprise or its HTTP/SMTP libraries is scrubbed of the secrets of every loaded URL.

Apprise masks secrets in its own URL logging (`secure_logging`), but some plugins log request URLs
at DEBUG (Slack logs its webhook URL, tokens included), and exception texts may quote them. So a
logging filter sits on the loggers those messages come from.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "****"
MIN_SECRET_LEN = 3

# Any URL's userinfo password, even of a URL we never loaded: scheme://user:secret@host
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@/\s]+)@", re.IGNORECASE)

# Loggers whose records may carry URLs or request lines; ours too, belt and braces.
REDACTED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests", "watchfloor.notify")


def channel_hash(url: str) -> str:
    """Identifies a channel in the delivery log without storing its URL (sha256 of it)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def secret_fragments(url: str, privacy_url: str) -> set[str]:
    """The parts of `url` Apprise hides in its privacy rendering: password, tokens in the path or
    the query. Whatever Apprise shows in the privacy URL is public by its own judgement."""
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return set()
    host = parts.netloc.rpartition("@")[2].split(":")[0]  # case kept: Slack's first token sits here
    candidates = [username, password, host]
    candidates += parts.path.split("/")
    candidates += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    out: set[str] = set()
    public = unquote(privacy_url)
    for candidate in candidates:
        if not candidate:
            continue
        for form in {candidate, unquote(candidate)}:
            if len(form) >= MIN_SECRET_LEN and form not in privacy_url and form not in public:
                out.add(form)
    return out


class SecretRegistry:
    """The secrets of every channel loaded in this process; shared by all log filters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: set[str]) -> None:
        with self._lock:
            merged = self._secrets | secrets
            if merged == self._secrets:
                return
            self._secrets = frozenset(merged)
            # Longest first, so a secret containing another one is masked whole.
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives)) if alternatives else None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _USERINFO.sub(lambda m: m.group("head") + MASK + "@", text)


REGISTRY = SecretRegistry()


def register_url(url: str, privacy_url: str) -> None:
    """Called for every channel as soon as it is loaded, before anything can log about it."""
    REGISTRY.add(secret_fragments(url, privacy_url))


def redact(text: str) -> str:
    """`text` with every known secret (and any URL password) replaced by ****."""
    return REGISTRY.redact(text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must still not leak; show its template only
            message = str(record.msg)
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        cleaned = redact(message)
        record.msg = cleaned
        record.args = ()
        return True


_FILTER = RedactingFilter()
_installed = False
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Idempotent: puts the filter on the loggers Apprise, requests and urllib3 write to."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
        _installed = True
