"""Redaction of secret values from everything we echo, raise or log.

Secrets are registered as they are generated or read; `redact()` replaces every registered value and
anything that looks like a credential (password in a URL, `--password=…` flags, AWS secret keys).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "***"
_MIN_LEN = 4  # shorter values would mask ordinary words

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s/]+)@")
_SECRET_FLAGS = re.compile(
    # `--secret=NAME` (gcloud's secret *name*) stays readable; `--client-secret=…` and the like do not.
    r"(?P<flag>--?(?:[a-z-]*password|auth-token|[a-z]+-secret|token|api-key|root-password)[= ])(?P<val>\S+)",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(
    r"(?P<key>\b[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY)[A-Z0-9_]*\s*[=:]\s*)(?P<val>[^\s,;]+)"
)
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")


class Redactor:
    """A thread-safe registry of secret values and the function that hides them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, *values: str | None) -> None:
        """Remember values to hide (also their URL-encoded forms)."""
        from urllib.parse import quote

        with self._lock:
            for value in values:
                if value and len(value) >= _MIN_LEN:
                    self._values.add(value)
                    self._values.add(quote(value, safe=""))

    def forget_all(self) -> None:
        with self._lock:
            self._values.clear()

    def redact(self, text: str) -> str:
        """Return `text` with every registered value and credential-looking token masked."""
        if not text:
            return text
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        text = _SECRET_FLAGS.sub(lambda m: m["flag"] + MASK, text)
        text = _KEY_VALUE.sub(lambda m: m["key"] + MASK, text)
        return _AWS_ACCESS_KEY.sub(MASK, text)

    def redact_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.redact(a) for a in argv]


REDACTOR = Redactor()
register_secret = REDACTOR.register
redact = REDACTOR.redact


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def install_logging_filter(logger: logging.Logger | None = None) -> None:
    """Make sure the root logger has a handler (stderr, WARNING) and redact everything it emits.

    Called by every task before it runs, so library logging (boto3, urllib3, alembic) is covered too."""
    target = logger or logging.getLogger()
    if not target.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
