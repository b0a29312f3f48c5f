"""Output conventions shared by every task: redacted, progress on stderr, results on stdout.

rich is imported lazily (only when something is printed), so `inv --list` stays fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pmis_deploy.redaction import redact


def _console(stderr: bool = True) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    """A progress line (stderr)."""
    _console().print(redact(message), markup=False)


def warn(message: str) -> None:
    _console().print(f"[yellow]warning:[/yellow] {escape(redact(message))}")


def error(message: str) -> None:
    _console().print(f"[red]error:[/red] {escape(redact(message))}")


def success(message: str) -> None:
    _console().print(f"[green]✓[/green] {escape(redact(message))}")


def result(text: str) -> None:
    """A result line on stdout (what scripts consume), redacted."""
    sys.stdout.write(redact(text) + ("\n" if not text.endswith("\n") else ""))
    sys.stdout.flush()


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step, time it, and report how it ended."""
    _console().print(f"[bold cyan]→[/bold cyan] {escape(redact(name))}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        elapsed = time.monotonic() - started
        _console().print(f"[red]✗[/red] {escape(redact(name))} [dim]({elapsed:.1f}s)[/dim]")
        raise
    elapsed = time.monotonic() - started
    _console().print(f"[green]✓[/green] {escape(redact(name))} [dim]({elapsed:.1f}s)[/dim]")


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, stderr: bool = False) -> None:
    """Print a table (stdout by default: it is a result), every cell redacted."""
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for h in headers:
        t.add_column(h)
    for row in rows:
        t.add_row(*(escape(redact("" if c is None else str(c))) for c in row))
    _console(stderr=stderr).print(t)
