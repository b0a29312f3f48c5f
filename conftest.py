"""Root conftest: loads every fixture plugin in tests/fixtures/ (PostgreSQL, moto, registry, GCP fake).

It sits at the root so apps/api/tests and apps/worker/tests share the same real servers.
"""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "tests" / "fixtures").glob("*.py")
    if p.stem != "__init__"
)
