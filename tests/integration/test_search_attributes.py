"""Search attribute administration against a fresh dev server (its SQL visibility has fixed
slots per type: 3 Int, 10 Keyword, ...): provisioning on registration through the registry's
own workflow and activities, type conflicts, the slot budget, and every reconcile mode."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.client import Client

from integration.stack import ADMIN_HEADERS, TemporalDevServer, own_stack, wait_until
from integration.test_registry_api import error, unique, violation_fields

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[tuple[httpx.Client, TemporalDevServer]]:
    own = workdir / unique("sa")
    own.mkdir()
    with (
        own_stack(own) as (temporal, _, envoy),
        httpx.Client(base_url=envoy.http_url, timeout=30, headers=ADMIN_HEADERS) as http,
    ):
        yield http, temporal


def register(http: httpx.Client, *workflows: dict[str, Any]) -> httpx.Response:
    body = {"worker_id": unique("w"), "task_queue": "sa-q", "workflows": list(workflows)}
    return http.post("/registry/workers", json=body)


def declaring(workflow_type: str, **attributes: str) -> dict[str, Any]:
    return {
        "workflow_type": workflow_type,
        "search_attributes": [{"name": n, "type": t} for n, t in attributes.items()],
    }


def in_temporal(http: httpx.Client) -> dict[str, str]:
    listed = http.get("/registry/temporal/search-attributes").json()["search_attributes"]
    return {a["name"]: a["type"] for a in listed if a["source"] == "custom"}


def operator(
    temporal: TemporalDevServer,
    *,
    add: dict[str, int] | None = None,
    remove: list[str] | None = None,
) -> None:
    async def change() -> None:
        client = await Client.connect(temporal.address)
        if remove:
            await client.operator_service.remove_search_attributes(
                RemoveSearchAttributesRequest(namespace="default", search_attributes=remove)
            )
        if add:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace="default", search_attributes=add)
            )

    asyncio.run(change())


def test_registration_provisions_what_it_declares(
    stack: tuple[httpx.Client, TemporalDevServer],
) -> None:
    http, temporal = stack
    kind = unique("orders")
    response = register(http, declaring(kind, Region="Keyword", Priority="Int"))
    assert response.status_code == 200, response.text
    assert in_temporal(http).items() >= {"Region": "Keyword", "Priority": "Int"}.items()
    # Same name, same type: left alone.
    assert register(http, declaring(unique("other"), Priority="Int")).status_code == 200

    declared = http.get("/registry/search-attributes").json()["search_attributes"]
    [priority] = [a for a in declared if a["name"] == "Priority"]
    assert priority["type"] == "Int" and kind in priority["workflows"]
    assert len(priority["workflows"]) == 2

    listed = http.get("/registry/temporal/search-attributes").json()["search_attributes"]
    assert {a["source"] for a in listed} == {"custom", "system"}
    assert listed[0]["source"] == "custom"  # custom first, then system, each by name
    assert {"name": "WorkflowId", "type": "Keyword", "source": "system"} in listed

    async def provisioning_runs() -> int:
        client = await Client.connect(temporal.address)
        query = 'WorkflowType = "TemporalRegistryProvisionSearchAttributes"'
        return len([run async for run in client.list_workflows(query)])

    wait_until(lambda: asyncio.run(provisioning_runs()) >= 1, 15, "provisioning workflow listed")


def test_a_type_conflict_refuses_the_registration(
    stack: tuple[httpx.Client, TemporalDevServer],
) -> None:
    http, _ = stack
    register(http, declaring(unique("a"), Channel="Keyword")).raise_for_status()
    kind = unique("b")
    details = error(
        register(http, declaring(kind, Channel="Int")), 400, 9, "SEARCH_ATTRIBUTE_CONFLICT"
    )
    assert violation_fields(details) == ["workflows[0].search_attributes[0].type"]
    message = details["type.googleapis.com/google.rpc.BadRequest"]["field_violations"][0][
        "description"
    ]
    assert "Channel exists in the namespace as Keyword" in message and "Int" in message
    error(http.get(f"/registry/workflows/{kind}"), 404, 5, "WORKFLOW_NOT_FOUND")
    assert in_temporal(http)["Channel"] == "Keyword"  # never overwritten

    # Two declarations of one name in one registration must agree too.
    details = error(
        register(http, declaring(unique("c"), Mood="Keyword"), declaring(unique("d"), Mood="Bool")),
        400,
        9,
        "SEARCH_ATTRIBUTE_CONFLICT",
    )
    assert violation_fields(details) == ["workflows[1].search_attributes[0].type"]


def test_the_slot_budget_is_checked_before_calling_temporal(
    stack: tuple[httpx.Client, TemporalDevServer],
) -> None:
    http, _ = stack
    before = in_temporal(http)
    used = sum(1 for kind in before.values() if kind == "Double")
    too_many = {f"Ratio{i}": "Double" for i in range(4 - used)}
    response = register(http, declaring(unique("ratios"), **too_many))
    details = error(response, 400, 9, "SEARCH_ATTRIBUTE_BUDGET")
    assert "at most 3 Double" in response.json()["message"]
    assert details
    assert in_temporal(http) == before  # nothing was created
    fits = {f"Ratio{i}": "Double" for i in range(3 - used)}
    assert register(http, declaring(unique("ratios"), **fits)).status_code == 200


def test_reconcile_modes(stack: tuple[httpx.Client, TemporalDevServer]) -> None:
    http, temporal = stack
    register(http, declaring(unique("paint"), Shade="Keyword", Tone="Keyword")).raise_for_status()
    # Someone changes the namespace behind the registry's back.
    operator(
        temporal,
        remove=["Shade", "Tone"],
        add={"Shade": IndexedValueType.INDEXED_VALUE_TYPE_INT},
    )

    def reconcile(**body: Any) -> httpx.Response:
        return http.post("/registry/temporal/search-attributes", json=body)

    report = reconcile(mode="validate").json()
    assert report["missing"] == ["Tone"]
    assert {
        "name": "Shade",
        "existing_type": "Int",
        "desired_type": "Keyword",
        "source": "custom",
    } in report["conflicts"]
    assert report["added"] == [] and report["replaced"] == []
    existing = {(a["name"], a["type"]) for a in report["existing"]}
    assert report["unchanged"] == sorted(
        a["name"] for a in report["desired"] if (a["name"], a["type"]) in existing
    )
    assert in_temporal(http).get("Tone") is None  # validate changes nothing

    ensured = reconcile(mode="ensure").json()
    assert ensured["added"] == ["Tone"]
    assert [r["name"] for r in ensured["refused"]] == ["Shade"]
    assert in_temporal(http)["Tone"] == "Keyword"
    nothing = reconcile(mode="ensure", attributes=["Shade"])
    details = error(nothing, 400, 9, "NOTHING_RECONCILED")
    assert violation_fields(details) == ['search_attributes["Shade"]']

    for body, fields in (
        ({"mode": "replace", "attributes": ["Shade"]}, ["confirm"]),
        ({"mode": "replace", "confirm": True}, ["attributes"]),
        ({"mode": "replace", "attributes": ["WorkflowId"], "confirm": True}, ["attributes[0]"]),
        ({"mode": "sometimes"}, ["mode"]),
    ):
        details = error(reconcile(**body), 400, 3, "INVALID_RECONCILE")
        assert violation_fields(details) == fields, body

    replaced = reconcile(mode="replace", attributes=["Shade"], confirm=True).json()
    assert replaced["replaced"] == ["Shade"] and replaced["refused"] == []
    assert in_temporal(http)["Shade"] == "Keyword"
    assert reconcile(mode="validate").json()["conflicts"] == []
