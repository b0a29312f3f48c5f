"""Build arguments reach the builder (the web bundle bakes NEXT_PUBLIC_API_URL in at build time)."""

from __future__ import annotations

import io
from pathlib import Path

from pmis_deploy import images
from pmis_deploy.shell import Runner


def test_build_args_are_merged_sorted_and_rendered_as_flags(tmp_path: Path) -> None:
    spec = images.ImageSpec("web", tmp_path, tmp_path / "Dockerfile").with_build_args(B="2", A="1")
    spec = spec.with_build_args(A="3")
    assert spec.build_args == (("A", "3"), ("B", "2"))
    assert spec.build_arg_flags() == ["--build-arg", "A=3", "--build-arg", "B=2"]


def test_buildah_argv_carries_the_build_args(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    out = io.StringIO()
    engine = images.Engine("buildah", Runner(dry_run=True, stream=out), tmp_path / "storage")
    spec = images.ImageSpec("web", tmp_path, tmp_path / "Dockerfile").with_build_args(
        NEXT_PUBLIC_API_URL="http://alb.example"
    )
    ref = images.build(engine, spec, "registry.example/pmis/web", "abc123")
    echoed = out.getvalue()
    assert "--build-arg NEXT_PUBLIC_API_URL=http://alb.example" in echoed
    assert ref.built is False  # dry-run: nothing was built, and the ref says so
