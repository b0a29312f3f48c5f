"""Container images of a release: tag by git SHA, build, push, and pin by the pushed digest.

    sha, tag = source_version(runner, root, allow_dirty=False)       # never :latest
    engine = detect_engine(runner, state_dir)                         # docker if an engine answers, else buildah
    ref = build(engine, spec, tag)                                    # ImageRef(built=True, digest=None)
    ref = push(engine, ref, destination, auth=Credentials(...))       # ImageRef(pushed=True, digest="sha256:…")
    ref.reference                                                     # "<repo>@sha256:…" (what task definitions pin)

Cloud-agnostic: the AWS flow passes ECR credentials from boto3's authorization token, the GCP flow an
Artifact Registry token. buildah runs daemonless (`--isolation chroot --storage-driver vfs`, its storage
under the state dir). Nothing here claims work it did not do: an image that was not pushed has no
digest, and `reference` is then `<repo>:<tag>` (allowed only where images are not pushed: `local`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pmis_deploy.errors import CommandError, DeployError, ToolMissingError
from pmis_deploy.redaction import register_secret

if TYPE_CHECKING:
    from pmis_deploy.shell import Runner

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
UNBUILT = "unbuilt"
LOOPBACK = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


class ImageError(DeployError):
    """An image could not be built or pushed."""


@dataclass(frozen=True)
class ImageSpec:
    """How to build one service's image."""

    service: str
    context: Path
    dockerfile: Path
    build_args: tuple[tuple[str, str], ...] = ()  # --build-arg NAME=VALUE (baked in at build time)

    def with_build_args(self, **args: str) -> ImageSpec:
        return replace(self, build_args=tuple(sorted({**dict(self.build_args), **args}.items())))

    def build_arg_flags(self) -> list[str]:
        return [flag for name, value in self.build_args for flag in ("--build-arg", f"{name}={value}")]


@dataclass(frozen=True)
class ImageRef:
    """One service's image in this release. `digest` is set only once a registry has confirmed a push."""

    service: str
    repository: str  # registry host/path, without tag or digest
    tag: str
    digest: str | None = None
    built: bool = False
    pushed: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.tag == "latest":
            raise ImageError(f"{self.service}: refusing the tag 'latest'", hint="images are tagged with the git SHA")
        if self.digest is not None and not DIGEST.fullmatch(self.digest):
            raise ImageError(f"{self.service}: {self.digest!r} is not an image digest")

    @property
    def reference(self) -> str:
        """What a task definition / Cloud Run revision runs: by digest once pushed, else repo:tag."""
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"

    @property
    def tagged(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def recorded(self) -> str:
        """What the release record stores: the pinned reference, or `repo:tag (unbuilt)`."""
        return (
            self.reference if self.pushed else f"{self.tagged} ({UNBUILT if not self.built else 'built, not pushed'})"
        )


@dataclass(frozen=True)
class Credentials:
    """Registry credentials; the password is registered for redaction and only ever sent on stdin."""

    registry: str
    username: str
    password: str

    def __post_init__(self) -> None:
        register_secret(self.password)


def source_version(runner: Runner, root: Path, *, allow_dirty: bool) -> tuple[str, str]:
    """(full git SHA, image tag). A dirty tree gets `<sha12>-dirty-<hash of the diff>`, and is refused
    unless `allow_dirty` (local, or --allow-dirty): a release must be reproducible from its commit."""
    sha = runner.run(["git", "rev-parse", "HEAD"], mutating=False, cwd=root).stdout.strip()
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise DeployError(f"git rev-parse HEAD gave {sha!r}", hint="run from a git checkout with at least one commit")
    status = runner.run(["git", "status", "--porcelain", "--untracked-files=no"], mutating=False, cwd=root)
    if not status.stdout.strip():
        return sha, sha[:12]
    if not allow_dirty:
        raise DeployError(
            f"the working tree has uncommitted changes ({len(status.stdout.splitlines())} files); "
            "a release must be built from a commit",
            hint="commit or stash them, or pass --allow-dirty (the image tag then says -dirty)",
        )
    import hashlib

    diff = runner.run(["git", "diff", "HEAD"], mutating=False, cwd=root).stdout
    return sha, f"{sha[:12]}-dirty-{hashlib.sha256(diff.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Engine:
    """The container tool: `docker` (an engine answers) or `buildah` (daemonless)."""

    kind: str  # "docker" | "buildah"
    runner: Runner
    storage: Path | None = None  # buildah --root/--runroot parent

    def argv(self, *args: str) -> list[str]:
        if self.kind == "docker":
            return ["docker", *args]
        assert self.storage is not None
        return [
            "buildah",
            "--root",
            str(self.storage / "root"),
            "--runroot",
            str(self.storage / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]


def detect_engine(runner: Runner, state_dir: Path) -> Engine:
    """docker when `docker info` answers, else buildah; neither → ToolMissingError (never a fake success)."""
    if shutil.which("docker"):
        probe = runner.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], mutating=False, check=False, timeout=20
        )
        if probe.ok and probe.stdout.strip():
            return Engine("docker", runner)
    if shutil.which("buildah"):
        storage = state_dir / "containers"
        # Create it ourselves: containers-storage makes missing parents 0700, which would lock the postgres
        # user out of the state dir where the local PostgreSQL cluster lives.
        storage.mkdir(parents=True, exist_ok=True)
        return Engine("buildah", runner, storage=storage)
    raise ToolMissingError(
        "no container engine reachable: `docker info` failed and buildah is not installed",
        hint="start Docker, or install buildah (scripts/bootstrap does), then deploy again",
    )


def base_images(dockerfile: Path) -> list[str]:
    """The external base images of a Dockerfile (FROM lines, minus `scratch` and earlier stage names)."""
    stages: set[str] = set()
    bases: list[str] = []
    for line in dockerfile.read_text().splitlines():
        m = re.match(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if not m:
            continue
        image = m.group(1)
        if image.lower() != "scratch" and image not in stages and image not in bases:
            bases.append(image)
        if m.group(2):
            stages.add(m.group(2))
    return bases


def missing_bases(engine: Engine, dockerfile: Path) -> list[str]:
    """Base images not in the engine's local storage."""
    missing = []
    for image in base_images(dockerfile):
        probe = (
            engine.argv("image", "inspect", image)
            if engine.kind == "docker"
            else engine.argv("inspect", "--type", "image", image)
        )
        if not engine.runner.run(probe, mutating=False, check=False, timeout=60).ok:
            missing.append(image)
    return missing


def build(engine: Engine, spec: ImageSpec, repository: str, tag: str) -> ImageRef:
    """Build `spec` as `<repository>:<tag>` into the engine's local storage."""
    ref = ImageRef(spec.service, repository, tag)
    if not spec.dockerfile.is_file():
        raise ImageError(f"{spec.service}: no Dockerfile at {spec.dockerfile}")
    if engine.kind == "docker":
        argv = engine.argv(
            "build", "--pull=false", *spec.build_arg_flags(), "-t", ref.tagged,
            "-f", str(spec.dockerfile), str(spec.context),
        )  # fmt: skip
    else:
        argv = engine.argv(
            "bud", "--isolation", "chroot", "--pull=false", "--layers", *spec.build_arg_flags(), "-t", ref.tagged,
            "-f", str(spec.dockerfile), str(spec.context),
        )  # fmt: skip
    try:
        result = engine.runner.run(argv, timeout=1800)
    except CommandError as exc:
        raise ImageError(f"{spec.service}: image build failed: {exc.message}", hint=exc.hint) from None
    return replace(ref, built=not result.skipped)


def push(engine: Engine, ref: ImageRef, *, credentials: Credentials | None = None) -> ImageRef:
    """Push `ref.tagged`; returns the ref with the digest the registry confirmed."""
    if not ref.built:
        raise ImageError(f"{ref.service}: cannot push an image that was not built")
    tls = [] if not LOOPBACK.match(ref.repository) else ["--tls-verify=false"]
    with tempfile.TemporaryDirectory(prefix="pmis-push-") as tmp:
        auth = Path(tmp) / "auth.json"
        if credentials is not None:
            login = ["login", "--username", credentials.username, "--password-stdin"]
            if engine.kind == "buildah":
                login += ["--authfile", str(auth), *tls]
            # log in to the registry the image goes to (for ECR the same host as the token's proxyEndpoint)
            registry = ref.repository.split("/", 1)[0]
            engine.runner.run(engine.argv(*login, registry), input=credentials.password, timeout=120)
        if engine.kind == "docker":
            result = engine.runner.run(engine.argv("push", ref.tagged), timeout=1800)
            if result.skipped:
                return ref
            inspect = engine.runner.run(
                engine.argv("image", "inspect", "--format", "{{json .RepoDigests}}", ref.tagged), mutating=False
            )
            found = DIGEST.findall(inspect.stdout)
            digest = found[0] if found else None
        else:
            digest_file = Path(tmp) / "digest"
            argv = ["push", *tls, "--digestfile", str(digest_file)]
            if credentials is not None:
                argv += ["--authfile", str(auth)]
            result = engine.runner.run(engine.argv(*argv, ref.tagged, f"docker://{ref.tagged}"), timeout=1800)
            if result.skipped:
                return ref
            digest = digest_file.read_text().strip() if digest_file.is_file() else None
    if not digest or not DIGEST.fullmatch(digest):
        raise ImageError(f"{ref.service}: pushed {ref.tagged} but the registry reported no digest")
    return replace(ref, digest=digest, pushed=True)


APP_SERVICES = ("api", "worker", "web")


def app_image_specs(root: Path) -> dict[str, ImageSpec]:
    """Where each PMIS service's image is built from: apps/<service>/Dockerfile, context apps/<service>."""
    return {s: ImageSpec(s, root / "apps" / s, root / "apps" / s / "Dockerfile") for s in APP_SERVICES}


def build_local(root: Path, state_dir: Path, runner: Runner, *, allow_dirty: bool = True) -> list[ImageRef]:
    """Build every app image for the current commit as `pmis/<service>:<tag>` into local storage.

    Never pushes. An image whose base image is not in local storage is reported as skipped (note set)."""
    _, tag = source_version(runner, root, allow_dirty=allow_dirty)
    engine = detect_engine(runner, state_dir)
    refs = []
    for service, spec in app_image_specs(root).items():
        missing = missing_bases(engine, spec.dockerfile) if spec.dockerfile.is_file() else [f"(no {spec.dockerfile})"]
        if missing:
            note = f"base image {', '.join(missing)} not available offline"
            refs.append(ImageRef(service, f"localhost/pmis/{service}", tag, note=note))
        else:
            refs.append(build(engine, spec, f"localhost/pmis/{service}", tag))
    return refs
