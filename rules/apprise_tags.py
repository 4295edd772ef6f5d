"""The Apprise tags an alert rule may name: read from the Apprise config file itself, so every
stage that loads alert rules (and `rules check`) catches a tag no channel has, in any deployment."""

from __future__ import annotations

from pathlib import Path

from apprise import AppriseAsset, AppriseConfig

from core import apprise_console  # noqa: F401  (registers console://, so its tags count too)
from core.settings import ConfigError, Settings


def apprise_tags(config_path: Path) -> set[str]:
    """Every tag of the config's URLs; secure_logging keeps tokens out of Apprise's own log lines."""
    if not config_path.is_file():
        raise ConfigError(f"Apprise config {config_path} does not exist (WATCHFLOOR_APPRISE_CONFIG or --apprise-config)")
    source = AppriseConfig(asset=AppriseAsset(secure_logging=True))
    source.add(str(config_path))
    return {str(tag) for service in source.services() for tag in service.tags}


def configured_tags(settings: Settings) -> set[str] | None:
    """None (no check) when no Apprise config is set: then every alert goes to the console."""
    return apprise_tags(settings.apprise_config) if settings.apprise_config else None
