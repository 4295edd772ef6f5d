"""One place that reads the environment, so every command agrees on configuration."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration problem the user must fix; printed without a traceback."""


from watchfloor.security import KafkaSecurity  # noqa: E402  (it needs ConfigError above)


@dataclass(frozen=True)
class Settings:
    bootstrap: str | None = None
    topic_prefix: str = "watchfloor"
    feeds_file: Path | None = None
    rules_dir: Path | None = None
    apprise_config: Path | None = None
    data_dir: Path = field(default_factory=lambda: default_cache_dir() / "data")
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    create_topics: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value).expanduser() if value else None

        prefix = env.get("WATCHFLOOR_TOPIC_PREFIX", "").strip() or "watchfloor"
        return cls(
            bootstrap=env.get("WATCHFLOOR_KAFKA_BOOTSTRAP", "").strip() or None,
            topic_prefix=prefix,
            feeds_file=path("WATCHFLOOR_FEEDS"),
            rules_dir=path("WATCHFLOOR_RULES"),
            apprise_config=path("WATCHFLOOR_APPRISE_CONFIG"),
            data_dir=path("WATCHFLOOR_DATA_DIR") or default_cache_dir() / "data",
            security=KafkaSecurity.from_env(env),
            create_topics=env.get("WATCHFLOOR_CREATE_TOPICS", "true").strip().lower() not in ("0", "false", "no"),
        )

    def require_bootstrap(self) -> str:
        """Commands other than `run` never guess a cluster: they say which variable is missing."""
        if not self.bootstrap:
            raise ConfigError(
                "WATCHFLOOR_KAFKA_BOOTSTRAP is not set: point it at a Kafka cluster "
                "(e.g. WATCHFLOOR_KAFKA_BOOTSTRAP=127.0.0.1:9092, with `watchfloor broker` running), "
                "or use `watchfloor run`, which starts an embedded broker."
            )
        return self.bootstrap


def default_cache_dir() -> Path:
    """Inside a checkout the cache sits in the git-ignored `.cache/`; elsewhere in the user's cache."""
    override = os.environ.get("WATCHFLOOR_CACHE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "watchfloor"
