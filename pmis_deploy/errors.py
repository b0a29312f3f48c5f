"""The error tree. Every message says what failed and what to do next."""

from __future__ import annotations


class DeployError(Exception):
    """Base class: a failure the user can act on. `exit_code` is what the task exits with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ConfigError(DeployError):
    """The environment's settings are invalid: names the file, the key, the value and the fix."""


class CommandError(DeployError):
    """An external command failed, timed out or is missing."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        argv: list[str] | None = None,
        returncode: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.argv = argv or []
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(message, hint=hint)


class ToolMissingError(CommandError):
    """The program is not installed (or not on PATH)."""


class DryRunViolation(DeployError):
    """A mutating call was attempted while planning (--dry-run). A bug, never a user error."""


class LockHeldError(DeployError):
    """Another release holds the environment's deploy lock."""


class GateFailed(DeployError):
    """The pre-deployment checklist did not pass."""


class ReleaseFailed(DeployError):
    """A release step failed; the message says what was rolled back."""


class ConfirmationRefused(DeployError):
    """A production change was not confirmed (--yes, or an interactive yes)."""


class NotFound(DeployError):
    """A named thing (release, service, revision) does not exist."""
