"""/api/packages: list, create, get."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models import Package
from app.routers.common import SessionDep, get_or_404
from app.schemas import PackageIn, PackageOut

router = APIRouter(prefix="/packages", tags=["packages"])


@router.get("", response_model=list[PackageOut])
def list_packages(session: SessionDep, limit: int = 100, offset: int = 0) -> list[Package]:
    return list(session.scalars(select(Package).order_by(Package.code).limit(min(limit, 500)).offset(offset)))


@router.post("", response_model=PackageOut, status_code=status.HTTP_201_CREATED)
def create_package(body: PackageIn, session: SessionDep) -> Package:
    package = Package(**body.model_dump())
    session.add(package)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, f"a package with code {body.code!r} exists") from None
    session.refresh(package)
    return package


@router.get("/{package_id}", response_model=PackageOut)
def get_package(package_id: uuid.UUID, session: SessionDep) -> Package:
    return get_or_404(session, Package, package_id, "package")
