"""Kafka connection security, one set of settings for every client (aiokafka and faust alike).

WATCHFLOOR_KAFKA_SECURITY_PROTOCOL  PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
WATCHFLOOR_KAFKA_SASL_MECHANISM     PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (default PLAIN with SASL)
WATCHFLOOR_KAFKA_USERNAME           SASL user
WATCHFLOOR_KAFKA_PASSWORD[_FILE]    SASL password, or a file holding it (the file wins)
WATCHFLOOR_KAFKA_CA_FILE            PEM CA bundle to verify the brokers (default: the system's)
WATCHFLOOR_KAFKA_CERT_FILE / _KEY_FILE  client certificate and key (mutual TLS)

The password is kept out of reprs, logs and error messages.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchfloor.settings import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "KafkaSecurity":
        def get(name: str) -> str | None:
            value = env.get(f"WATCHFLOOR_KAFKA_{name}", "").strip()
            return value or None

        def path(name: str) -> Path | None:
            value = get(name)
            return Path(value).expanduser() if value else None

        protocol = (get("SECURITY_PROTOCOL") or "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise ConfigError(f"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={protocol!r}: use one of {', '.join(PROTOCOLS)}")
        sasl = protocol.startswith("SASL")
        mechanism = (get("SASL_MECHANISM") or ("PLAIN" if sasl else "")).upper() or None
        if mechanism and mechanism not in MECHANISMS:
            raise ConfigError(f"WATCHFLOOR_KAFKA_SASL_MECHANISM={mechanism!r}: use one of {', '.join(MECHANISMS)}")
        password = get("PASSWORD")
        password_file = path("PASSWORD_FILE")
        if password_file:
            try:
                password = password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"WATCHFLOOR_KAFKA_PASSWORD_FILE: cannot read {password_file}: {exc.strerror}") from None
        security = cls(protocol, mechanism if sasl else None, get("USERNAME"), password,
                       path("CA_FILE"), path("CERT_FILE"), path("KEY_FILE"))
        security.check()
        return security

    def check(self) -> None:
        if self.protocol.startswith("SASL") and not (self.username and self.password):
            raise ConfigError(f"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={self.protocol} needs WATCHFLOOR_KAFKA_USERNAME "
                              "and WATCHFLOOR_KAFKA_PASSWORD (or WATCHFLOOR_KAFKA_PASSWORD_FILE)")
        for name, value in (("CA_FILE", self.ca_file), ("CERT_FILE", self.cert_file), ("KEY_FILE", self.key_file)):
            if value is not None and not value.is_file():
                raise ConfigError(f"WATCHFLOOR_KAFKA_{name}: no such file {value}")
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("WATCHFLOOR_KAFKA_CERT_FILE and WATCHFLOOR_KAFKA_KEY_FILE go together")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file and self.key_file:
                context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"WATCHFLOOR_KAFKA_CA_FILE / _CERT_FILE / _KEY_FILE: cannot load TLS files: {exc}") from None
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            out["ssl_context"] = self.ssl_context()
        if self.mechanism:
            out.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                       sasl_plain_password=self.password)
        return out

    def faust_credentials(self) -> Any:
        """faust's own credential objects, so the processors connect exactly like the other stages."""
        import faust

        if self.mechanism:
            return faust.SASLCredentials(username=self.username, password=self.password, mechanism=self.mechanism,
                                         ssl_context=self.ssl_context())
        if self.tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def describe(self) -> str:
        """For error messages: which settings were in use, never the password."""
        parts = [f"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={self.protocol}"]
        if self.mechanism:
            parts += [f"WATCHFLOOR_KAFKA_SASL_MECHANISM={self.mechanism}", f"WATCHFLOOR_KAFKA_USERNAME={self.username}"]
        return ", ".join(parts)
