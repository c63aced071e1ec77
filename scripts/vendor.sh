#!/usr/bin/env bash
# Vendor the third-party files the browser tests inject into pages, from the npm registry:
# axe-core's axe.min.js (accessibility checks), pinned below. The package's own licence file is kept
# beside it, and tests/data/vendor/axe-core/SOURCE.md records the version, licence and checksums.
# Run from anywhere: ./scripts/vendor.sh (needs npm; to move to another version, change AXE_VERSION).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

AXE_VERSION=4.10.3
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
