#!/usr/bin/env bash
# Vendor third-party static files from the npm registry, each pinned below, with the package's own
# licence file kept beside them and a SOURCE.md recording the version, licence and checksums:
# - axe-core's axe.min.js (accessibility checks), which the browser tests inject into pages;
# - DejaVu Sans, regular and bold (TrueType), the fonts the node embeds in its invoices, credit notes
#   and tax certificates (PDF/A asks every font to be embedded), in node/telemanagement/data/dejavu/,
#   and a reduced copy of each ("ASASAP Sans": the Latin, Greek and Cyrillic blocks and punctuation,
#   renamed as the licence asks of a modified font), cut by `python -m node.telemanagement.fonts`.
# Run from anywhere: ./scripts/vendor.sh (needs npm and the project's .venv, or PYTHON=...; to move
# to another version, change *_VERSION).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

AXE_VERSION=4.10.3
DEJAVU_VERSION=2.37.3
TARGET=tests/data/vendor/axe-core
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null)
tar -xzf "$WORK/axe-core-$AXE_VERSION.tgz" -C "$WORK"
mkdir -p "$TARGET"
cp "$WORK/package/axe.min.js" "$TARGET/axe.min.js"
cp "$WORK/package/LICENSE" "$TARGET/LICENSE"
licence=$(node -e "console.log(require('$WORK/package/package.json').license)")
version=$(node -e "console.log(require('$WORK/package/package.json').version)")
[[ "$version" == "$AXE_VERSION" ]] || { echo "error: got axe-core $version, wanted $AXE_VERSION" >&2; exit 1; }
cat > "$TARGET/SOURCE.md" <<NOTE
# axe-core, vendored

- package: axe-core $version, from the npm registry (\`npm pack axe-core@$version\`)
- licence: $licence (the package's LICENSE file is beside this one, unchanged)
- files: \`axe.min.js\` (sha256 $(sha256sum "$TARGET/axe.min.js" | cut -d' ' -f1)), \`LICENSE\`
- used by: the browser tests (tests/support/axe.py), injected into pages; never served by a node
- refreshed by: \`scripts/vendor.sh\`
NOTE
echo "axe-core $version ($licence) in $TARGET"

# DejaVu Sans: only the regular and bold sans faces the PDFs draw with, and the licence.
TARGET=node/telemanagement/data/dejavu
rm -rf "$WORK/package"
(cd "$WORK" && npm pack --silent "dejavu-fonts-ttf@$DEJAVU_VERSION" >/dev/null)
tar -xzf "$WORK/dejavu-fonts-ttf-$DEJAVU_VERSION.tgz" -C "$WORK"
version=$(node -e "console.log(require('$WORK/package/package.json').version)")
[[ "$version" == "$DEJAVU_VERSION" ]] || {
    echo "error: got dejavu-fonts-ttf $version, wanted $DEJAVU_VERSION" >&2
    exit 1
}
mkdir -p "$TARGET"
cp "$WORK/package/ttf/DejaVuSans.ttf" "$WORK/package/ttf/DejaVuSans-Bold.ttf" "$WORK/package/LICENSE" "$TARGET/"
"${PYTHON:-.venv/bin/python}" -m node.telemanagement.fonts
cat > "$TARGET/SOURCE.md" <<NOTE
# DejaVu Sans, vendored

- package: dejavu-fonts-ttf $version (DejaVu fonts 2.37), from the npm registry
  (\`npm pack dejavu-fonts-ttf@$version\`)
- licence: the Bitstream Vera Fonts licence (free to use, copy and redistribute, also embedded in
  documents; modified fonts must be renamed), DejaVu's changes in the public domain, glyphs from Arev
  under the same terms as Vera (the package's LICENSE file is beside this one, unchanged)
- files: \`DejaVuSans.ttf\` (sha256 $(sha256sum "$TARGET/DejaVuSans.ttf" | cut -d' ' -f1)),
  \`DejaVuSans-Bold.ttf\` (sha256 $(sha256sum "$TARGET/DejaVuSans-Bold.ttf" | cut -d' ' -f1)), \`LICENSE\`
- derived: \`ASASAPSans.ttf\` (sha256 $(sha256sum "$TARGET/ASASAPSans.ttf" | cut -d' ' -f1)) and
  \`ASASAPSans-Bold.ttf\` (sha256 $(sha256sum "$TARGET/ASASAPSans-Bold.ttf" | cut -d' ' -f1)), each DejaVu face
  cut down by fontTools' subsetter to the Unicode blocks listed in node/telemanagement/fonts.py
  (\`BLOCKS\`: Basic Latin to Latin Extended-B, spacing modifiers, combining diacritics, Greek,
  Cyrillic, Latin Extended Additional, general punctuation, currency, letterlike symbols, number
  forms), all its name records, hinting and layout tables kept for those glyphs, timestamps unchanged,
  by \`python -m node.telemanagement.fonts\` (the same bytes each time); renamed "ASASAP Sans" in
  their name table (family, full, unique and PostScript names), as the Bitstream Vera licence asks of
  a modified font (no "Bitstream" nor "Vera" in its names); the copyright and licence notices kept
- used by: node/telemanagement/documents.py, which embeds them (subset) in the invoices', credit notes'
  and tax certificates' PDFs: the reduced face when it has every character of the document, else the
  full one; shipped in the installed package
- refreshed by: \`scripts/vendor.sh\`
NOTE
echo "dejavu-fonts-ttf $version in $TARGET"
