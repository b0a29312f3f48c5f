"""The command runner, with real subprocesses."""

from __future__ import annotations

import io
import sys

import pytest

from pmis_deploy.errors import CommandError, ToolMissingError
from pmis_deploy.redaction import Redactor
from pmis_deploy.shell import Runner

PY = sys.executable


def runner(**kwargs: object) -> tuple[Runner, io.StringIO]:
    out = io.StringIO()
    redactor = Redactor()
    redactor.register("hunter2-canary")
    return Runner(stream=out, redactor=redactor, **kwargs), out  # type: ignore[arg-type]


def test_runs_argv_and_echoes_before_running() -> None:
    r, out = runner()
    result = r.run([PY, "-c", "print(1+1)", "hello"], mutating=False)
    assert result.ok and result.stdout == "2\n"
    assert out.getvalue().startswith("$ ")
    assert out.getvalue().rstrip().endswith("-c 'print(1+1)' hello")


def test_rejects_shell_strings() -> None:
    r, _ = runner()
    with pytest.raises(TypeError):
        r.run("echo hi")  # type: ignore[arg-type]


def test_dry_run_skips_mutating_commands_and_says_so(tmp_path: object) -> None:
    r, out = runner(dry_run=True)
    marker = f"{tmp_path}/created"
    result = r.run([PY, "-c", f"open({marker!r}, 'w')"])
    assert result.skipped and result.ok
    assert "[dry-run] would run:" in out.getvalue()
    import os

    assert not os.path.exists(marker)


def test_dry_run_still_runs_reads() -> None:
    r, _ = runner(dry_run=True)
    assert r.run([PY, "-c", "print(42)"], mutating=False).stdout == "42\n"


def test_failure_names_command_exit_code_and_stderr_tail() -> None:
    r, _ = runner()
    script = "import sys\nfor i in range(40): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(CommandError) as exc:
        r.run([PY, "-c", script])
    message = exc.value.render()
    assert "exit 3" in message and "line 39" in message
    assert "line 5\n" not in message  # only the tail
    assert exc.value.returncode == 3


def test_timeout_is_an_error_naming_the_limit() -> None:
    r, _ = runner()
    with pytest.raises(CommandError, match=r"timed out after 1s"):
        r.run([PY, "-c", "import time; time.sleep(10)"], timeout=1)


def test_missing_program_is_a_clear_error() -> None:
    r, _ = runner()
    with pytest.raises(ToolMissingError, match="no-such-tool-xyz is not installed"):
        r.run(["no-such-tool-xyz", "--version"])


def test_secrets_are_redacted_from_echo_and_errors() -> None:
    r, out = runner()
    with pytest.raises(CommandError) as exc:
        r.run(
            [
                PY,
                "-c",
                "import sys; print('auth hunter2-canary failed', file=sys.stderr); sys.exit(1)",
                "--password=hunter2-canary",
                "postgresql://app:pw-in-url@db:5432/x",
            ],
        )
    shown = out.getvalue() + exc.value.render()
    assert "hunter2-canary" not in shown
    assert "pw-in-url" not in shown
    assert "postgresql://app:***@db:5432/x" in shown


def test_check_false_returns_the_failure() -> None:
    r, _ = runner()
    result = r.run([PY, "-c", "import sys; sys.exit(4)"], check=False)
    assert result.returncode == 4 and not result.ok


def test_input_and_env_are_passed() -> None:
    r, _ = runner()
    result = r.run(
        [PY, "-c", "import os,sys; print(sys.stdin.read() + os.environ['PMIS_T'])"],
        input="from-stdin:",
        env={"PMIS_T": "from-env"},
        mutating=False,
    )
    assert result.stdout.strip() == "from-stdin:from-env"
