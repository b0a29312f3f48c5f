"""What every GCP step gets: the gcloud runner, the settings and the derived names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pmis_deploy.gcp.names import GcpNames

if TYPE_CHECKING:
    from pmis_deploy.config import Settings
    from pmis_deploy.gcp.runner import Gcloud


@dataclass
class Ctx:
    gcloud: Gcloud
    settings: Settings
    names: GcpNames

    @classmethod
    def for_settings(cls, settings: Settings, *, dry_run: bool = False, echo: bool = True) -> Ctx:
        from pmis_deploy.gcp.runner import Gcloud

        return cls(Gcloud.for_settings(settings, dry_run=dry_run, echo=echo), settings, GcpNames.of(settings))

    @property
    def dry_run(self) -> bool:
        return self.gcloud.dry_run
