"""detect-secrets plugins for what its built-in detectors miss (loaded by `detect-secrets --plugin`).

- SkApiKeyDetector: `sk-…` API keys (OpenAI-style keys without the legacy T3BlbkFJ marker, Anthropic, …);
  the built-in OpenAIDetector only matches keys containing T3BlbkFJ.
- EnvAssignmentDetector: unquoted `NAME=value` assignments in .env-style files (.env*, *.env, *.ini, *.cfg,
  *.conf, *.properties) whose name says secret (PASSWORD, SECRET, TOKEN, API_KEY, …); the built-in
  KeywordDetector needs quotes in those file types. (In code, `name = value` assigns identifiers.)

This module is only imported by detect-secrets itself, never by pmis_deploy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

from detect_secrets.plugins.base import RegexBasedDetector

_PLACEHOLDER = re.compile(r"(?i)(change[-_]?me|your[-_]|example|placeholder|replace|dummy|<[^>]*>|x{6,}|\*{3,}|\.\.\.)")


class SkApiKeyDetector(RegexBasedDetector):
    """API keys of the form sk-<20+ characters>."""

    secret_type = "sk- API Key"  # noqa: S105 (a label, not a secret)
    denylist = [re.compile(r"(?<![A-Za-z0-9])(sk-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{20,})")]

    def analyze_string(self, string: str, **kwargs: Any) -> Generator[str, None, None]:
        for value in super().analyze_string(string):
            if not _PLACEHOLDER.search(value):
                yield value


class EnvAssignmentDetector(RegexBasedDetector):
    """Unquoted secret-named assignments: DATABASE_PASSWORD=s3cr3t..., export API_TOKEN=...."""

    secret_type = "Secret-named Variable Assignment"  # noqa: S105 (a label, not a secret)
    denylist = [
        re.compile(
            r"^\s*(?:export\s+)?[A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY)"
            r"[A-Za-z0-9_]*\s*=\s*([^\s'\"#$&{}]{8,})\s*$",
            re.IGNORECASE,
        )
    ]

    def analyze_string(self, string: str, **kwargs: Any) -> Generator[str, None, None]:
        for value in super().analyze_string(string):
            if not _PLACEHOLDER.search(value):
                yield value

    def analyze_line(self, filename: str, line: str, line_number: int = 0, context: Any = None, **kwargs: Any) -> Any:
        if not is_env_style(filename):
            return set()
        return super().analyze_line(filename=filename, line=line, line_number=line_number, context=context, **kwargs)


def is_env_style(filename: str) -> bool:
    name = os.path.basename(filename)
    return name.startswith(".env") or name.endswith(ENV_STYLE_SUFFIXES)


ENV_STYLE_SUFFIXES = (".env", ".ini", ".cfg", ".conf", ".properties")
