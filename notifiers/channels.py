"""Channels and routing, through Apprise itself: `WATCHFLOOR_APPRISE_CONFIG` is a standard Apprise
YAML or TEXT config whose URLs carry tags, and an alert's `notify` tags are matched by Apprise's
own `find(tag)` (so `always` and `all` behave as Apprise documents). With no config, every tag
goes to the `console://` channel.

Each channel gets an Apprise object of its own, so one channel's failures and retries never hold
up another's. A channel is identified by the sha256 of its URL; only that hash and Apprise's
privacy rendering of the URL ever leave this module.

A json:// channel also gets the alert's fields (Message.payload_extras). Apprise's JSON plugin
adds "payload extras" to its document: `:key=value` in the URL, which is the plugin's `payload`
constructor parameter. A URL is fixed per channel and its values are strings, so for each message
the channel's own parameters (parsed once from its URL by the plugin's `parse_url`) are handed to
`Apprise.instantiate` with the alert's fields added to `payload`; the plugin JSON-encodes them
as nested objects. Extras the user put in the URL are kept and take precedence. An email channel
gets an event's threading headers (References, In-Reply-To) the same way, through the email
plugin's `headers` parameter (`+Header=value` in its URL).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apprise import Apprise, AppriseAsset, AppriseConfig
from apprise.common import MATCH_ALWAYS_TAG

from core import apprise_console as console
from notifiers.format import Kind, Message, kind_for_url
from notifiers.redact import channel_hash, install_log_redaction, redact, register_url
from core.settings import ConfigError

log = logging.getLogger("watchfloor.notify")

REASON_MAX = 500


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    reason: str = ""


@dataclass(eq=False)
class Channel:
    """One Apprise URL. `privacy_url` is safe to log and store; the URL itself never leaves here."""

    hash: str
    privacy_url: str
    kind: Kind
    tags: frozenset[str]
    apobj: Apprise = field(repr=False)
    # json:// only: the plugin's constructor arguments (secrets included), for payload extras
    plugin_args: Mapping[str, Any] | None = field(default=None, repr=False)
    # Apprise objects for messages with their own plugin, kept for the next message: building
    # one costs ~1.5 ms of CPU (its locale looks for translation files), the send itself less.
    _spare: list[Apprise] = field(default_factory=list, repr=False)

    def _apprise_for(self, message: Message) -> Apprise:
        """The channel's Apprise object, or for a json:// channel and a message with payload
        extras (an email channel and a message with threading headers), one whose plugin adds
        them to the JSON document (the mail's headers); see the module docstring. One of the
        latter is used by one send at a time and handed back by `send`, emptied."""
        if self.plugin_args is None or (message.payload_extras is None and not message.headers):
            return self.apobj
        if message.payload_extras is not None:
            own_extras = self.plugin_args.get("payload") or {}
            args = {**self.plugin_args, "payload": {**message.payload_extras, **own_extras}}
        else:  # the URL's own +headers win
            args = {**self.plugin_args, "headers": {**(message.headers or {}), **(self.plugin_args.get("headers") or {})}}
        plugin = Apprise.instantiate(args, asset=self.apobj.asset, tag=self.tags, suppress_exceptions=False)
        if plugin is None:  # Apprise logged why (a disabled plugin)
            raise RuntimeError(f"Apprise could not load {self.privacy_url} with the alert's fields")
        apobj = self._spare.pop() if self._spare else Apprise(asset=self.apobj.asset)
        apobj.add(plugin)
        return apobj

    async def send(self, message: Message, timeout: float = 30.0) -> SendOutcome:
        """One attempt; retries are the caller's (see deliver.py). Apprise's blocking `notify`
        runs in this module's own thread pool: Apprise would queue every send of the process for
        one pool of cpu count + 4 threads, which held a notifier to 6 sends at once on a 2-core
        machine whatever its concurrency. A send still running after `timeout` keeps its thread
        until the plugin's own socket timeouts end it; its Apprise object is not reused."""
        apobj = None
        try:
            try:
                apobj = self._apprise_for(message)
                send = partial(apobj.notify, body=message.body, title=message.title,
                               notify_type=message.notify_type, body_format=message.body_format)
                running = asyncio.get_running_loop().run_in_executor(_senders(), send)
                try:
                    result = await asyncio.wait_for(running, timeout)
                except asyncio.TimeoutError:
                    apobj = None  # still in use by its thread
                    return SendOutcome(False, f"no answer within {timeout:g} s")
            except asyncio.CancelledError:
                apobj = None  # may still be in use by its thread
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin bug is this channel's failure, not the service's
                return SendOutcome(False, _cap(redact(f"{type(exc).__name__}: {exc}")))
            if result:
                return SendOutcome(True)
            return SendOutcome(False, failure_reason(result))
        finally:
            if apobj is not None and apobj is not self.apobj:  # a message's own: emptied for the next one
                apobj.clear()
                self._spare.append(apobj)


SEND_THREADS = 64  # the notifier's default concurrency (32 alerts) times a second channel each
_pool: list[ThreadPoolExecutor] = []


def _senders() -> ThreadPoolExecutor:
    """The process's pool for Apprise's blocking sends (threads are made as they are needed)."""
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="apprise-send"))
    return _pool[0]


def failure_reason(result: object) -> str:
    """Apprise's own warnings for the failed attempt (e.g. "error=500"), secrets masked."""
    messages: list[str] = []
    try:
        for entry in result.logs():  # type: ignore[attr-defined]
            if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message not in messages:
                messages.append(entry.message)
    except Exception:  # noqa: BLE001 - the reason is best effort
        pass
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    reason = "; ".join(messages[-3:]) if messages else f"Apprise reported {status}"
    return _cap(redact(reason))


def _cap(text: str) -> str:
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def _asset() -> AppriseAsset:
    # secure_logging: Apprise prints privacy URLs when it logs about loading them.
    # service_timeout=0: a send runs in the thread that calls `notify` (Channel.send bounds it
    # with its own timeout) instead of being queued for Apprise's process-wide pool.
    return AppriseAsset(secure_logging=True, service_timeout=0)


def _load(config: Path | None) -> tuple[Apprise, list]:
    """The config's Apprise object and its services; the console when there is no config."""
    install_log_redaction()
    asset = _asset()
    apobj = Apprise(asset=asset)
    if config is None:
        apobj.add(console.CONSOLE_URL, tag=MATCH_ALWAYS_TAG)
        return apobj, list(apobj)
    if not config.is_file():
        raise ConfigError(f"Apprise config {config} does not exist (WATCHFLOOR_APPRISE_CONFIG or --apprise-config)")
    source = AppriseConfig(asset=asset)
    source.add(str(config))
    services = list(source.services())
    if not services:
        raise ConfigError(
            f"Apprise config {config}: no usable URL in it (the apprise warnings above say why; "
            "see https://github.com/caronc/apprise/wiki/config for the YAML and TEXT formats)"
        )
    for service in services:
        register_url(service.url(), service.url(privacy=True))
    apobj.add(source)
    return apobj, services


def known_tags(config_path: Path) -> set[str]:
    """Every tag of the config's URLs, for `watchfloor rules check` to report unknown tags.

    (With no config at all every tag goes to the console, so there is nothing to check.)"""
    _, services = _load(config_path)
    return {str(tag) for service in services for tag in service.tags}


def _plugin_args(service: object, privacy_url: str) -> dict[str, Any]:
    """The service's constructor arguments, by its plugin's own parse of its own URL (what Apprise
    documents `url()` for: re-creating the service)."""
    args = type(service).parse_url(service.url())  # type: ignore[attr-defined]
    if not args:
        raise ConfigError(f"Apprise cannot parse its own URL {privacy_url} back")
    return args


class Channels:
    """The channels of one config, created once per URL and reused for every alert."""

    def __init__(self, apobj: Apprise, source: Path | None) -> None:
        self._apobj = apobj
        self.source = source
        self._by_hash: dict[str, Channel] = {}
        self._by_tag: dict[str, list[Channel]] = {}  # a config is fixed once loaded: route each tag once

    @classmethod
    def load(cls, config: Path | None) -> "Channels":
        """Raises ConfigError when the file is missing or holds no usable URL."""
        apobj, _ = _load(config)
        channels = cls(apobj, config)
        for service in list(apobj.find()):
            channels._channel(service)
        return channels

    @property
    def is_console(self) -> bool:
        return self.source is None

    def all(self) -> list[Channel]:
        return list(self._by_hash.values())

    def tags(self) -> set[str]:
        return {t for ch in self._by_hash.values() for t in ch.tags}

    def for_tag(self, tag: str) -> list[Channel]:
        """The channels Apprise routes `tag` to (its own tag matching, `always` included); asked
        once per tag: Apprise's `find` renders and hashes every URL of the config for each call."""
        found = self._by_tag.get(tag)
        if found is None:
            found = self._by_tag[tag] = [self._channel(service) for service in self._apobj.find(tag)]
        return list(found)

    def _channel(self, service: object) -> Channel:
        url = service.url()  # type: ignore[attr-defined]
        key = channel_hash(url)
        channel = self._by_hash.get(key)
        if channel is None:
            privacy = service.url(privacy=True)  # type: ignore[attr-defined]
            register_url(url, privacy)
            own = Apprise(asset=service.asset)  # type: ignore[attr-defined]
            own.add(service)
            kind = kind_for_url(url)
            channel = Channel(
                hash=key,
                privacy_url=privacy,
                kind=kind,
                tags=frozenset(str(t) for t in service.tags),  # type: ignore[attr-defined]
                apobj=own,
                plugin_args=_plugin_args(service, privacy) if kind in (Kind.JSON, Kind.EMAIL) else None,
            )
            self._by_hash[key] = channel
        return channel
