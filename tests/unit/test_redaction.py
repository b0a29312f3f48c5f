"""Redaction of registered secrets and credential-looking text."""

from __future__ import annotations

import logging

import pytest

from pmis_deploy.redaction import RedactingFilter, Redactor


@pytest.fixture
def r() -> Redactor:
    red = Redactor()
    red.register("S3cr3t/with@chars")
    return red


def test_registered_values_and_their_url_encoding(r: Redactor) -> None:
    assert r.redact("pw=S3cr3t/with@chars").count("S3cr3t") == 0
    assert "S3cr3t" not in r.redact("postgresql://u:S3cr3t%2Fwith%40chars@h/db")


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("redis://:tok3nvalue@host:6379/0", "tok3nvalue"),
        ("rediss://default:abcDEF123@h:6379", "abcDEF123"),
        ("--root-password=pa55word", "pa55word"),
        ("--auth-token abcdefgh", "abcdefgh"),
        ("DATABASE_PASSWORD=xyz12345", "xyz12345"),
        ("AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI", "wJalrXUtnFEMI"),
        ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ],
)
def test_credential_patterns(r: Redactor, text: str, leak: str) -> None:
    assert leak not in r.redact(text)


def test_secret_names_stay_readable_but_client_secrets_do_not(r: Redactor) -> None:
    assert r.redact("--secret=pmis-local-database-url") == "--secret=pmis-local-database-url"
    assert "abc123xyz" not in r.redact("--client-secret=abc123xyz")


def test_short_values_are_not_registered(r: Redactor) -> None:
    r.register("ab", None, "")
    assert r.redact("ab cd") == "ab cd"


def test_ordinary_text_is_untouched(r: Redactor) -> None:
    text = "deployed pmis-api revision 12 to https://example.com/health"
    assert r.redact(text) == text


def test_logging_filter_redacts_messages(caplog: pytest.LogCaptureFixture) -> None:
    from pmis_deploy.redaction import register_secret

    register_secret("log-canary-value")
    logger = logging.getLogger("pmis.test")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    record = logging.LogRecord("pmis.test", logging.INFO, __file__, 1, "token %s", ("log-canary-value",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "token ***"
    logger.removeHandler(handler)


def test_task_logging_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """What every task installs: root-logger output passes through the redactor."""
    import io

    from pmis_deploy.redaction import install_logging_filter, register_secret

    register_secret("root-log-canary-42")
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        install_logging_filter()
        logging.getLogger("botocore.demo").warning("sent token root-log-canary-42")
    finally:
        root.removeHandler(handler)
    assert stream.getvalue().strip() == "sent token ***"
