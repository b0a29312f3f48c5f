"""The production guard."""

from __future__ import annotations

import pytest

from pmis_deploy.errors import ConfirmationRefused
from pmis_deploy.guard import confirm


def never_asked(_: str) -> str:
    raise AssertionError("the guard asked although it must not")


def test_not_required_passes_without_asking() -> None:
    assert confirm("staging", required=False, yes=False, action="deploy to", interactive=True, ask=never_asked) is None


def test_yes_passes_even_in_ci_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert confirm("production", required=True, yes=True, action="deploy to", ask=never_asked) is None


def test_ci_without_yes_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ConfirmationRefused, match="from CI without --yes"):
        confirm("production", required=True, yes=False, action="deploy to", interactive=True)


def test_non_interactive_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(ConfirmationRefused, match="pass --yes"):
        confirm("production", required=True, yes=False, action="deploy to", interactive=False)


@pytest.mark.parametrize(("answer", "ok"), [("production", True), ("yes", False), ("", False)])
def test_interactive_needs_the_environment_name(monkeypatch: pytest.MonkeyPatch, answer: str, ok: bool) -> None:
    monkeypatch.delenv("CI", raising=False)
    call = lambda: confirm(  # noqa: E731
        "production", required=True, yes=False, action="deploy to", interactive=True, ask=lambda _: answer
    )
    if ok:
        call()
    else:
        with pytest.raises(ConfirmationRefused, match="nothing was changed"):
            call()
