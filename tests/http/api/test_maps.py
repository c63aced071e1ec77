"""The maps API (/api/v1/map/local and /api/v1/map/departements): GeoJSON of the matches of a search,
communes' centres only, every département with its outline, bad input refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.settings import Settings
from tests.support.search import indexed


@pytest.fixture
def proposals(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        indexed(session, settings, "Ménage", category="housework")
        indexed(session, settings, "Ménage du soir", category="housework", purpose="request")
        indexed(session, settings, "Tonte", category="gardening", insee="69123", origin="b.example")


@pytest.mark.usefixtures("proposals")
def test_local_map_is_points_at_communes(client: TestClient) -> None:
    answer = client.get("/api/v1/map/local", params={"q": "entretien"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "FeatureCollection"
    [feature] = body["features"]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert (round(lon, 2), round(lat, 2)) == (lon, lat)
    assert feature["properties"] | {"categories": None} == {
        "kind": "commune",
        "code": "93048",
        "name": "Montreuil",
        "offers": 1,
        "requests": 1,
        "total": 2,
        "categories": None,
    }
    everywhere = client.get("/api/v1/map/local").json()["features"]
    assert [f["properties"]["code"] for f in everywhere] == ["93048", "69123"]
    around = client.get("/api/v1/map/local", params={"commune": "93006", "radius": "5"}).json()
    assert [f["properties"]["code"] for f in around["features"]] == ["93048"]


@pytest.mark.usefixtures("proposals")
def test_national_map_shades_every_departement(client: TestClient) -> None:
    answer = client.get("/api/v1/map/departements", params={"purpose": "offer"})
    assert answer.status_code == 200
    features = {f["properties"]["code"]: f for f in answer.json()["features"]}
    assert features["93"]["properties"]["offers"] == 1 and features["93"]["properties"]["requests"] == 0
    assert features["69"]["properties"]["total"] == 1 and features["13"]["properties"]["total"] == 0
    ring = features["93"]["geometry"]["coordinates"][0]
    assert features["93"]["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]


@pytest.mark.parametrize(
    "params",
    [{"radius": "5"}, {"radius": "-3"}, {"commune": "99999"}, {"category": "nope"}, {"q": "x" * 201}],
)
def test_bad_input_is_a_422(client: TestClient, params: dict[str, str]) -> None:
    for path in ("/api/v1/map/local", "/api/v1/map/departements"):
        assert client.get(path, params=params).status_code == 422


def test_the_openapi_document_lists_the_maps(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/map/local" in paths and "/api/v1/map/departements" in paths
