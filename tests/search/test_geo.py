"""The maps of a search (:mod:`node.search.geo`): counts per commune and per département, positions kept
to a commune's centre rounded to a kilometre whatever a proposal carries, a radius, and the outlines."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.core.timeutil import utcnow
from node.places.gazetteer import default_gazetteer
from node.search import geo
from node.search.filters import parse_search
from node.settings import Settings
from tests.support.search import indexed

MONTREUIL, BAGNOLET, LYON = "93048", "93006", "69123"


def map_of(session: Session, **params: Any) -> geo.MapData:
    filters, errors = parse_search({k: str(v) for k, v in params.items()})
    assert errors == {}
    return geo.map_of(filters, session=session, now=utcnow())


def inside(point: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    x, y = point
    found = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            found = not found
    return found


def test_counts_per_commune_and_departement(session: Session, settings: Settings) -> None:
    indexed(session, settings, "Ménage", category="housework")
    indexed(session, settings, "Repassage", category="housework", purpose="request")
    indexed(session, settings, "Tonte", category="gardening", insee=BAGNOLET)
    indexed(session, settings, "Taille de haies", category="gardening", insee=LYON, origin="b.example")
    data = map_of(session)
    assert [(a.code, a.counts.offers, a.counts.requests) for a in data.communes] == [
        (MONTREUIL, 1, 1),
        (BAGNOLET, 1, 0),
        (LYON, 1, 0),
    ]
    assert data.communes[0].counts.categories == {"housework": 2}
    assert [(a.code, a.counts.total) for a in data.departements] == [("93", 3), ("69", 1)]
    assert data.total == 4
    assert [a.code for a in map_of(session, q="entretien").communes] == [MONTREUIL]
    assert [a.code for a in map_of(session, origin="local").departements] == ["93"]
    assert map_of(session, q="plomberie").communes == []


def test_a_point_is_the_communes_centre_rounded_never_finer(session: Session, settings: Settings) -> None:
    row = indexed(session, settings, "Aide au jardin", origin="b.example")
    row.latitude, row.longitude = 48.8612345, 2.4456789  # a remote node sent a finer position
    session.add(row)
    session.commit()
    [area] = map_of(session).communes
    montreuil = default_gazetteer().by_insee(MONTREUIL)
    assert montreuil is not None and montreuil.lat is not None and montreuil.lon is not None
    assert (area.lat, area.lon) == (round(montreuil.lat, 2), round(montreuil.lon, 2))
    [feature] = geo.communes_geojson(map_of(session))["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [area.lon, area.lat]}
    assert feature["properties"]["name"] == "Montreuil" and feature["properties"]["total"] == 1


def test_radius_around_a_commune(session: Session, settings: Settings) -> None:
    indexed(session, settings, "Ménage")
    indexed(session, settings, "Ménage à Lyon", insee=LYON)
    assert [a.code for a in map_of(session, commune=BAGNOLET, radius=10).communes] == [MONTREUIL]
    assert len(map_of(session, commune=BAGNOLET, radius=1000).communes) == 2


def test_every_departement_has_an_outline_around_its_communes(session: Session, settings: Settings) -> None:
    indexed(session, settings, "Ménage")
    collection = geo.departements_geojson(map_of(session))
    by_code = {f["properties"]["code"]: f for f in collection["features"]}
    assert len(by_code) >= 96 and by_code["93"]["properties"]["total"] == 1
    assert by_code["75"]["properties"]["total"] == 0
    ring = geo.departement_outline("93")
    assert ring[0] == ring[-1] and len(ring) >= 4
    montreuil = default_gazetteer().by_insee(MONTREUIL)
    assert montreuil is not None and montreuil.lat is not None and montreuil.lon is not None
    assert inside((montreuil.lon, montreuil.lat), ring)
    assert not inside((montreuil.lon, montreuil.lat), geo.departement_outline("69"))
    assert geo.departement_outline("00") == []
