"""Packages and tasks over HTTP against the migrated real database."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def _package(client: TestClient, code: str = "PKG-1", **extra: object) -> dict:
    response = client.post("/api/packages", json={"code": code, "title": f"Package {code}", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_get_and_list_packages_with_server_defaults(client: TestClient) -> None:
    created = _package(client, "PKG-1")
    _package(client, "PKG-0", data={"budget": 1200})
    assert created["data"] == {}  # the JSONB server default
    assert created["created_at"] and created["updated_at"]  # server-side now()
    assert uuid.UUID(created["id"])
    assert client.get(f"/api/packages/{created['id']}").json() == created
    listed = client.get("/api/packages").json()
    assert [p["code"] for p in listed] == ["PKG-0", "PKG-1"]
    assert listed[0]["data"] == {"budget": 1200}


def test_duplicate_package_code_is_409(client: TestClient) -> None:
    _package(client, "DUP")
    response = client.post("/api/packages", json={"code": "DUP", "title": "again"})
    assert response.status_code == 409
    assert "DUP" in response.json()["detail"]


def test_unknown_ids_are_404_and_bad_bodies_422(client: TestClient) -> None:
    assert client.get(f"/api/packages/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/api/tasks/{uuid.uuid4()}").status_code == 404
    assert client.post("/api/packages", json={"code": "", "title": "x"}).status_code == 422
    response = client.post("/api/tasks", json={"package_id": str(uuid.uuid4()), "title": "orphan"})
    assert response.status_code == 422
    assert "does not exist" in response.json()["detail"]


def test_tasks_create_get_and_filter_by_package(client: TestClient) -> None:
    first, second = _package(client, "A"), _package(client, "B")
    task = client.post(
        "/api/tasks", json={"package_id": first["id"], "title": "survey", "due_date": "2030-01-31"}
    ).json()
    client.post("/api/tasks", json={"package_id": second["id"], "title": "design", "status": "in_progress"})
    assert task["status"] == "open" and task["overdue"] is False and task["due_date"] == "2030-01-31"
    assert client.get(f"/api/tasks/{task['id']}").json() == task
    assert [t["title"] for t in client.get("/api/tasks", params={"package_id": first["id"]}).json()] == ["survey"]
    assert len(client.get("/api/tasks").json()) == 2
    assert client.get("/api/tasks", params={"overdue": "true"}).json() == []
    bad_status = client.post("/api/tasks", json={"package_id": first["id"], "title": "x", "status": "weird"})
    assert bad_status.status_code == 422
