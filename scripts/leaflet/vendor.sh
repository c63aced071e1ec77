#!/bin/sh
# Copy the map library of the map pages (Leaflet, from the npm registry) into the static files, with its
# licence and a VERSION file naming the package, its version, its licence and the tarball's checksum.
# Usage: scripts/leaflet/vendor.sh   (run from anywhere; needs npm)
set -eu
PACKAGE=leaflet
VERSION=1.9.4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$ROOT/node/http/pages/static/vendor/leaflet"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
TARBALL=$(npm pack --silent "$PACKAGE@$VERSION")
tar -xzf "$TARBALL"
mkdir -p "$DEST"
cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE "$DEST/"
LICENCE=$(node -e 'console.log(require("./package/package.json").license)')
SHA=$(sha256sum "$TARBALL" | cut -d" " -f1)
printf 'package: %s\nversion: %s\nlicence: %s\ntarball sha256: %s\nfiles: leaflet.js leaflet.css LICENSE (from dist/ and the package root, unchanged)\n' \
  "$PACKAGE" "$VERSION" "$LICENCE" "$SHA" > "$DEST/VERSION"
echo "vendored $PACKAGE $VERSION ($LICENCE) into $DEST"
