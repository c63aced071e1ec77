"""Tests for the offline gazetteer of French communes (node.places.gazetteer)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from node.places.gazetteer import (
    Commune,
    Gazetteer,
    default_gazetteer,
    departement_of_postal_code,
    distance_km,
    normalize,
)

# Observed in the shipped file built from @etalab/decoupage-administratif 6.0.0
# (COG 2026): 34,746 metropolitan + 129 overseas-département communes.
EXPECTED_COMMUNES = 34_875
EST_ENSEMBLE = {
    "93006": "Bagnolet",
    "93008": "Bobigny",
    "93010": "Bondy",
    "93045": "Les Lilas",
    "93048": "Montreuil",
    "93053": "Noisy-le-Sec",
    "93055": "Pantin",
    "93061": "Le Pré-Saint-Gervais",
    "93063": "Romainville",
}


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return default_gazetteer()


def _get(gaz: Gazetteer, code: str) -> Commune:
    commune = gaz.by_insee(code)
    assert commune is not None, code
    return commune


def test_nothing_loaded_before_first_lookup(tmp_path: Path) -> None:
    g = Gazetteer(tmp_path / "does-not-exist.csv.gz")  # constructing reads nothing
    with pytest.raises(FileNotFoundError):
        g.by_insee("93048")


def test_default_gazetteer_is_cached() -> None:
    assert default_gazetteer() is default_gazetteer()


def test_commune_count(gaz: Gazetteer) -> None:
    assert len(gaz) == EXPECTED_COMMUNES
    assert 34_800 <= len(gaz) <= 35_100
    overseas = [c for c in gaz.communes() if c.departement.startswith("97")]
    assert {c.departement for c in overseas} == {"971", "972", "973", "974", "976"}


def test_montreuil_and_bagnolet(gaz: Gazetteer) -> None:
    montreuil = _get(gaz, "93048")
    assert montreuil.name == "Montreuil"
    assert montreuil.postal_codes == ("93100",)
    assert montreuil.departement == "93"
    assert montreuil.departement_name == "Seine-Saint-Denis"
    assert montreuil.region == "11"
    assert montreuil.region_name == "Île-de-France"
    assert montreuil.population is not None and montreuil.population > 100_000
    bagnolet = _get(gaz, "93006")
    assert bagnolet.name == "Bagnolet"
    assert bagnolet.postal_codes == ("93170",)
    assert gaz.by_postal_code("93170") == [bagnolet]
    assert gaz.by_postal_code("93100") == [montreuil]


def test_est_ensemble_communes(gaz: Gazetteer) -> None:
    for code, name in EST_ENSEMBLE.items():
        commune = _get(gaz, code)
        assert commune.name == name
        assert commune.departement == "93"
        assert commune.has_coordinates
        assert gaz.search(name, limit=1) == [commune]


def test_paris_lyon_marseille(gaz: Gazetteer) -> None:
    for code, name, n_arr in (("75056", "Paris", 20), ("69123", "Lyon", 9), ("13055", "Marseille", 16)):
        city = _get(gaz, code)
        assert city.name == name and not city.is_arrondissement
        assert len(gaz.arrondissements(code)) == n_arr
        assert gaz.search(name, limit=1) == [city]
        for arr in gaz.arrondissements(code):
            assert arr.parent == code
            assert set(arr.postal_codes) <= set(city.postal_codes)
            assert gaz.commune_of(arr.insee) == city
            assert city in gaz.by_postal_code(arr.postal_codes[0])
    assert "75116" in _get(gaz, "75056").postal_codes
    assert gaz.by_postal_code("75011") == [_get(gaz, "75056")]
    assert _get(gaz, "75111").name == "Paris 11e Arrondissement"
    assert gaz.resolve("75011", "Paris") == _get(gaz, "75056")
    assert gaz.resolve("75011", "PARIS 11E ARRONDISSEMENT") == _get(gaz, "75056")
    assert gaz.resolve("69003", "Lyon 3ème") == _get(gaz, "69123")
    assert gaz.resolve("13008", "marseille 8e") == _get(gaz, "13055")
    assert all(not c.is_arrondissement for c in gaz.search("paris", limit=20))


def test_postal_code_with_several_communes(gaz: Gazetteer) -> None:
    communes = gaz.by_postal_code("01400")
    assert len(communes) >= 5
    codes = {c.insee for c in communes}
    assert {"01093", "01001"} <= codes  # Châtillon-sur-Chalaronne, L'Abergement-Clémenciat
    pops = [c.population or 0 for c in communes]
    assert pops == sorted(pops, reverse=True)
    assert gaz.by_postal_code("00000") == []


def test_commune_with_several_postal_codes(gaz: Gazetteer) -> None:
    saint_denis_reunion = _get(gaz, "97411")
    assert len(saint_denis_reunion.postal_codes) > 1
    for pc in saint_denis_reunion.postal_codes:
        assert saint_denis_reunion in gaz.by_postal_code(pc)


def test_overseas_saint_denis(gaz: Gazetteer) -> None:
    c = _get(gaz, "97411")
    assert c.name == "Saint-Denis"
    assert c.departement == "974"
    assert c.departement_name == "La Réunion"
    assert c.lat is not None and -21.5 < c.lat < -20.8
    assert c.lon is not None and 55.1 < c.lon < 55.9


def test_search_saint_abbreviation(gaz: Gazetteer) -> None:
    results = gaz.search("st den")
    codes = [c.insee for c in results]
    assert "93066" in codes and "97411" in codes
    assert all(c.name.startswith("Saint-Denis") for c in results[:2])
    assert gaz.search("Saint-Denis", limit=2) == gaz.search("st denis", limit=2)


def test_search_montreuil_ranked_by_population(gaz: Gazetteer) -> None:
    results = gaz.search("montreuil")
    assert results[0].insee == "93048"
    exact = [c for c in results if c.name == "Montreuil"]
    assert results[: len(exact)] == exact  # exact names before "Montreuil-…" prefixes
    pops = [c.population or 0 for c in exact]
    assert pops == sorted(pops, reverse=True)


def test_search_is_accent_case_and_punctuation_insensitive(gaz: Gazetteer) -> None:
    pre = _get(gaz, "93061")
    for query in ("le pré-saint-gervais", "LE PRE SAINT GERVAIS", "pre st gervais", "Pré St-Gerv"):
        assert gaz.search(query, limit=1) == [pre], query
    assert gaz.search("l abergement clemenciat", limit=1) == [_get(gaz, "01001")]
    assert gaz.search("L’Abergement-Clémenciat", limit=1) == [_get(gaz, "01001")]


def test_search_postal_codes(gaz: Gazetteer) -> None:
    assert gaz.search("93100") == [_get(gaz, "93048")]
    prefix = gaz.search("931", limit=50)
    assert prefix and all(any(pc.startswith("931") for pc in c.postal_codes) for c in prefix)
    assert gaz.search("93 mont", limit=1) == [_get(gaz, "93048")]
    assert gaz.search("97411", limit=1) == [_get(gaz, "97411")]  # an INSEE code
    assert gaz.search("", limit=5) == []
    assert gaz.search("zzzzqq") == []
    assert len(gaz.search("sa", limit=3)) == 3


def test_resolve_form_input(gaz: Gazetteer) -> None:
    assert gaz.resolve("93100", "MONTREUIL") == _get(gaz, "93048")
    assert gaz.resolve(" 93170 ", "bagnolet") == _get(gaz, "93006")
    assert gaz.resolve("93310", "le pre st gervais") == _get(gaz, "93061")
    assert gaz.resolve("93310", "Pré-Saint-Gervais") == _get(gaz, "93061")
    assert gaz.resolve("01400", "Chatillon sur Chalaronne") == _get(gaz, "01093")
    assert gaz.resolve("93100", "Bagnolet") is None  # known code, other commune
    assert gaz.resolve("93100", "Nowhere") is None
    assert gaz.resolve("97717", "Saint-Denis Cedex 9") == _get(gaz, "97411")  # CEDEX code
    assert gaz.resolve("93100", "") == _get(gaz, "93048")
    assert gaz.resolve("01400", "") is None


def test_resolve_former_commune_name(gaz: Gazetteer) -> None:
    aurseulles = _get(gaz, "14581")
    assert "Saint-Germain-d'Ectot" in aurseulles.aliases
    assert gaz.resolve(aurseulles.postal_codes[0], "Saint Germain d Ectot") == aurseulles


def test_distance(gaz: Gazetteer) -> None:
    montreuil, bagnolet = _get(gaz, "93048"), _get(gaz, "93006")
    d = distance_km(montreuil, bagnolet)
    assert d is not None and 1.0 < d < 5.0
    assert distance_km(montreuil, montreuil) == 0.0
    paris, marseille = _get(gaz, "75056"), _get(gaz, "13055")
    far = distance_km(paris, marseille)
    assert far is not None and 640 < far < 690
    nowhere = Commune("00000", "Nowhere", (), "00", "00", None, None, None)
    assert distance_km(montreuil, nowhere) is None


def test_coordinates_mostly_present(gaz: Gazetteer) -> None:
    missing = [c.insee for c in gaz.communes() if not c.has_coordinates]
    assert len(missing) <= 10  # 4 in the current build, documented in the README
    for c in gaz.communes():
        if c.lat is not None and c.lon is not None and not c.departement.startswith("97"):
            assert 41.3 < c.lat < 51.1 and -5.2 < c.lon < 9.6, c


def test_departements(gaz: Gazetteer) -> None:
    deps = gaz.departements()
    assert len(deps) == 101
    d93 = gaz.departement("93")
    assert d93 is not None and d93.name == "Seine-Saint-Denis" and d93.region == "11"
    assert gaz.departement("2a") is not None
    assert gaz.departement("99") is None
    assert departement_of_postal_code("93100") == ("93",)
    assert departement_of_postal_code("20000") == ("2A", "2B")
    assert departement_of_postal_code("97400") == ("974",)
    assert departement_of_postal_code("abc") == ()


def test_normalize() -> None:
    assert normalize("Saint-Étienne") == normalize("st etienne") == "saint etienne"
    assert normalize("L’Haÿ-les-Roses") == "l hay les roses"
    assert normalize("Œuilly") == "oeuilly"


def test_custom_file(tmp_path: Path) -> None:
    header = (
        "insee,name,postal_codes,departement,departement_name,region,region_name,"
        "population,lat,lon,parent,aliases\n"
    )
    rows = "99001,Testville,99100 99200,99,Testdep,99,Testreg,,,,,Oldville\n"
    path = tmp_path / "mini.csv.gz"
    path.write_bytes(gzip.compress((header + rows).encode()))
    g = Gazetteer(path)
    c = g.by_insee("99001")
    assert c is not None and c.population is None and c.lat is None
    assert g.by_postal_code("99200") == [c]
    assert g.resolve("99100", "oldville") == c
    assert g.search("test") == [c]
    assert len(g) == 1
