"""One typed settings object, read from the environment and validated once, for every command.

Every `WATCHFLOOR_*` variable is a field here (pydantic-settings reads and validates them), so a
bad value ends any command with one line naming the variable, what is wrong with it and what is
allowed, instead of a traceback from whichever module happened to read it first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from core.security import KafkaSecurity


class ConfigError(Exception):
    """A configuration problem the user must fix; printed without a traceback."""


def default_cache_dir() -> Path:
    """Inside a checkout the cache sits in the git-ignored `.cache/`; elsewhere in the user's cache."""
    override = os.environ.get("WATCHFLOOR_CACHE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "watchfloor"


Port = int
_PORT = {"ge": 0, "le": 65535}
_SECRETS = ("kafka_password", "console_token")


class Settings(BaseSettings):
    """What every stage needs to know; frozen, so a running stage never sees it change."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True, validate_default=True,
                                      str_strip_whitespace=True, env_ignore_empty=True, case_sensitive=True)

    bootstrap: str | None = Field(None, description="host:port[,host:port…] of the Kafka cluster; unset: `run` starts an embedded one",
                                  validation_alias="WATCHFLOOR_KAFKA_BOOTSTRAP")
    topic_prefix: str = Field("watchfloor", pattern=r"^[A-Za-z0-9._-]{1,100}$", description="letters, digits, '.', '_' or '-'",
                              validation_alias="WATCHFLOOR_TOPIC_PREFIX")
    feeds_file: Path | None = Field(None, description="a feeds file (YAML or OPML)",
                                    validation_alias="WATCHFLOOR_FEEDS")
    rules_dir: Path | None = Field(None, description="a folder of rule files",
                                   validation_alias="WATCHFLOOR_RULES")
    apprise_config: Path | None = Field(None, description="an Apprise YAML or TEXT config file",
                                        validation_alias="WATCHFLOOR_APPRISE_CONFIG")
    data_dir: Path = Field(default_factory=lambda: default_cache_dir() / "data", description="a writable folder",
                           validation_alias="WATCHFLOOR_DATA_DIR")
    create_topics: bool = Field(True, description="true or false",
                                validation_alias="WATCHFLOOR_CREATE_TOPICS")
    metrics_port: Port | None = Field(None, **_PORT, description="a port 0-65535 (0 turns the endpoint off; unset: the stage's default)",
                                      validation_alias="WATCHFLOOR_METRICS_PORT")
    console_port: Port | None = Field(None, **_PORT, description="a port 0-65535 (0 leaves the console out of `run`; unset: 8080)",
                                      validation_alias="WATCHFLOOR_CONSOLE_PORT")
    console_token: SecretStr | None = Field(None, description="any text; unset: the console is read-only",
                                            validation_alias="WATCHFLOOR_CONSOLE_TOKEN")
    console_tile_url: str | None = Field(None, description="an http(s) URL template with {z}, {x} and {y}, e.g. "
                                         "https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset: the console's map draws "
                                         "the shipped country outlines, offline",
                                         validation_alias="WATCHFLOOR_CONSOLE_TILE_URL")
    event_group_wait: float = Field(20.0, ge=0, le=3600, description="seconds, 0-3600: how long an event's first "
                                    "reports gather before its first alert (0: alert at once)",
                                    validation_alias="WATCHFLOOR_EVENT_GROUP_WAIT")
    event_update_interval: float = Field(600.0, ge=0, le=86400, description="seconds, 0-86400, between an event's "
                                         "messages", validation_alias="WATCHFLOOR_EVENT_UPDATE_INTERVAL")
    event_max_updates: int = Field(3, ge=0, le=20, description="0-20 updates per event",
                                   validation_alias="WATCHFLOOR_EVENT_MAX_UPDATES")
    event_meaning: bool = Field(True, description="true or false: compare reports in two languages (English, Ukrainian, "
                                "Russian) by meaning (a bundled multilingual model, about 60 ms a report it is "
                                "needed for) when words and places find no event for one",
                                validation_alias="WATCHFLOOR_EVENT_MEANING")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
        validation_alias="WATCHFLOOR_KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
        validation_alias="WATCHFLOOR_KAFKA_SASL_MECHANISM")
    kafka_username: str | None = Field(None, description="the SASL user",
                                       validation_alias="WATCHFLOOR_KAFKA_USERNAME")
    kafka_password: SecretStr | None = Field(None, description="the SASL password",
                                             validation_alias="WATCHFLOOR_KAFKA_PASSWORD")
    kafka_password_file: Path | None = Field(None, description="a readable file holding the SASL password",
                                             validation_alias="WATCHFLOOR_KAFKA_PASSWORD_FILE")
    kafka_ca_file: Path | None = Field(None, description="an existing PEM file",
                                       validation_alias="WATCHFLOOR_KAFKA_CA_FILE")
    kafka_cert_file: Path | None = Field(None, description="an existing PEM file",
                                         validation_alias="WATCHFLOOR_KAFKA_CERT_FILE")
    kafka_key_file: Path | None = Field(None, description="an existing PEM file",
                                        validation_alias="WATCHFLOOR_KAFKA_KEY_FILE")

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() or None if isinstance(value, str) else value

    @field_validator("feeds_file", "rules_dir", "apprise_config", "data_dir", "kafka_password_file", "kafka_ca_file",
                     "kafka_cert_file", "kafka_key_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("kafka_ca_file", "kafka_cert_file", "kafka_key_file", "kafka_password_file", mode="after")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file {value}")
        return value

    @field_validator("console_tile_url", mode="after")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        """The browser fetches this itself: only web URLs with the three tile placeholders make a map."""
        if value is None:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
                or any(c.isspace() or c in '"<>\\' for c in value):
            raise ValueError("not an http(s) URL")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"{', '.join(missing)} missing from the URL")
        return value

    @model_validator(mode="after")
    def _security(self) -> "Settings":
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and not (self.kafka_username and self.sasl_password()):
            raise ValueError(f"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs WATCHFLOOR_KAFKA_USERNAME "
                             "and WATCHFLOOR_KAFKA_PASSWORD (or WATCHFLOOR_KAFKA_PASSWORD_FILE)")
        if bool(self.kafka_cert_file) != bool(self.kafka_key_file):
            raise ValueError("WATCHFLOOR_KAFKA_CERT_FILE and WATCHFLOOR_KAFKA_KEY_FILE go together")
        return self

    def sasl_password(self) -> str | None:
        """The password file wins over the variable, so a mounted Secret can replace an old value."""
        if self.kafka_password_file is not None:
            try:
                return self.kafka_password_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"WATCHFLOOR_KAFKA_PASSWORD_FILE: cannot read {self.kafka_password_file}: {exc.strerror}") from None
        return self.kafka_password.get_secret_value() if self.kafka_password else None

    @property
    def security(self) -> "KafkaSecurity":
        from core.security import KafkaSecurity

        sasl = self.kafka_security_protocol.startswith("SASL")
        return KafkaSecurity(self.kafka_security_protocol, (self.kafka_sasl_mechanism or "PLAIN") if sasl else None,
                             self.kafka_username, self.sasl_password() if sasl else None,
                             self.kafka_ca_file, self.kafka_cert_file, self.kafka_key_file)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Reads the process environment (or `env`, for tests); a bad value is one ConfigError line per variable."""
        try:
            if env is None:
                return cls()
            names = {f.validation_alias for f in cls.model_fields.values()}
            return cls(**{k: v for k, v in env.items() if k in names and v.strip()})
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from None

    def with_changes(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (e.g. the embedded broker's address), validated again."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)(**values)

    def require_bootstrap(self) -> str:
        """Commands other than `run` never guess a cluster: they say which variable is missing."""
        if not self.bootstrap:
            raise ConfigError(
                "WATCHFLOOR_KAFKA_BOOTSTRAP is not set: point it at a Kafka cluster "
                "(e.g. WATCHFLOOR_KAFKA_BOOTSTRAP=127.0.0.1:9092, with `watchfloor broker` running), "
                "or use `watchfloor run`, which starts an embedded broker."
            )
        return self.bootstrap


_PLAIN = {"literal_error": "not an allowed value", "int_parsing": "not a whole number",
          "bool_parsing": "not true or false", "string_pattern_mismatch": "not an allowed name"}


def describe_errors(exc: ValidationError) -> str:
    """`VARIABLE='value': problem; allowed: …`, one line per bad variable; secrets are never echoed."""
    lines = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        info = Settings.model_fields.get(field) or next(
            (f for f in Settings.model_fields.values() if f.validation_alias == field), None)
        if info is None:  # a whole-model check: its message already names the variables
            lines.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        variable = str(info.validation_alias)
        secret = any(variable == "WATCHFLOOR_" + s.upper() for s in _SECRETS)
        shown = "" if secret else f"={error.get('input')!r}"
        message = _PLAIN.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
        lines.append(f"{variable}{shown}: {message}; allowed: {info.description}")
    return "\n".join(lines)
