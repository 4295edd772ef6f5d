"""Kafka connection security, one set of settings for every client (producers, consumers, admin).

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

from core.settings import ConfigError

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
        """The security part of the validated settings (see core.settings)."""
        from core.settings import Settings

        return Settings.from_env(env).security

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

    def describe(self) -> str:
        """For error messages: which settings were in use, never the password."""
        parts = [f"WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={self.protocol}"]
        if self.mechanism:
            parts += [f"WATCHFLOOR_KAFKA_SASL_MECHANISM={self.mechanism}", f"WATCHFLOOR_KAFKA_USERNAME={self.username}"]
        return ", ".join(parts)
