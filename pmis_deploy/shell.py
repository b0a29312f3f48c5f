"""The one place external commands start: argv lists, echo, dry-run, timeouts, redaction.

runner = Runner(dry_run=True)
runner.run(["alembic", "upgrade", "head"])               # echoed, not run (says so)
runner.run(["git", "rev-parse", "HEAD"], mutating=False)  # reads run even in dry-run
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from pmis_deploy.errors import CommandError, ToolMissingError
from pmis_deploy.redaction import REDACTOR, Redactor

STDERR_TAIL_LINES = 20
DEFAULT_TIMEOUT = 900.0


@dataclass(frozen=True)
class Result:
    """What a command did. `skipped` is True when dry-run did not run it."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Runner:
    """Runs argv lists. Every echo, error and log line goes through the redactor."""

    dry_run: bool = False
    echo: bool = True
    timeout: float = DEFAULT_TIMEOUT
    redactor: Redactor = field(default_factory=lambda: REDACTOR)
    stream: IO[str] | None = None  # where echoes go; stderr by default
    env: Mapping[str, str] | None = None  # extra environment for every command
    history: list[tuple[str, ...]] = field(default_factory=list)
    on_run: Callable[[Sequence[str]], None] | None = None  # observer (tests, benchmarks)

    def display(self, argv: Sequence[str]) -> str:
        """The redacted, shell-quoted form of argv (what we echo)."""
        import shlex

        return shlex.join(self.redactor.redact_argv(argv))

    def _echo(self, text: str) -> None:
        if self.echo:
            out = self.stream or sys.stderr
            out.write(text + "\n")
            out.flush()

    def run(
        self,
        argv: Sequence[str],
        *,
        mutating: bool = True,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        capture: bool = True,
    ) -> Result:
        """Run `argv`. In dry-run a mutating command is echoed and skipped; reads still run."""
        if isinstance(argv, str) or not argv:
            raise TypeError("Runner.run takes a non-empty argv list, never a shell string")
        argv = [str(a) for a in argv]
        shown = self.display(argv)
        if self.dry_run and mutating:
            self._echo(f"[dry-run] would run: {shown}")
            return Result(tuple(argv), 0, skipped=True)
        if shutil.which(argv[0], path=(env or self.env or os.environ).get("PATH")) is None and not os.path.isfile(
            argv[0]
        ):
            raise ToolMissingError(
                f"{argv[0]} is not installed or not on PATH (needed to run: {shown})",
                hint=f"install {argv[0]} (see README, 'Set up'), or put it on PATH",
                argv=argv,
            )
        self._echo(f"$ {shown}")
        full_env = {**os.environ, **(self.env or {}), **(env or {})}
        limit = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        self.history.append(tuple(argv))
        if self.on_run:
            self.on_run(argv)
        try:
            proc = subprocess.run(
                argv,
                input=input,
                capture_output=capture,
                text=True,
                timeout=limit,
                env=full_env,
                cwd=cwd,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            tail = _tail(_text(exc.stderr))
            raise CommandError(
                f"command timed out after {limit:.0f}s: {shown}" + (f"\n{self.redactor.redact(tail)}" if tail else ""),
                hint="raise the timeout, or look at why the command hangs",
                argv=argv,
                stderr_tail=self.redactor.redact(tail),
            ) from None
        duration = time.monotonic() - started
        result = Result(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr or "", duration)
        if check and proc.returncode != 0:
            raise failure(result, self.redactor)
        return result


def failure(result: Result, redactor: Redactor = REDACTOR, *, hint: str | None = None) -> CommandError:
    """A CommandError naming the (redacted) command, its exit code and the tail of its stderr."""
    import shlex

    tail = redactor.redact(_tail(result.stderr or result.stdout))
    shown = shlex.join(redactor.redact_argv(result.argv))
    message = f"command failed (exit {result.returncode}): {shown}"
    if tail:
        message += "\n" + "\n".join("  | " + line for line in tail.splitlines())
    return CommandError(message, hint=hint, argv=list(result.argv), returncode=result.returncode, stderr_tail=tail)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
