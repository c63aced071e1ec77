#!/usr/bin/env bash
# Regenerate the newest migration from the models while it is still unreleased (not yet on main in a
# release). Usage: scripts/regenerate-migration.sh REVISION "message"   e.g. 0002 "federation"
set -euo pipefail
cd "$(dirname "$0")/.."
rev="$1"; message="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f node/migrations/versions/"${rev}"_*.py
ASASAP_DATABASE_URL="sqlite:///$tmp/gen.db" ASASAP_SECRET_KEY=regenerate .venv/bin/asasap migrate >/dev/null
.venv/bin/alembic -c alembic.ini -x "url=sqlite:///$tmp/gen.db" revision --autogenerate --rev-id "$rev" -m "$message" >/dev/null
.venv/bin/ruff format -q node/migrations/versions/"${rev}"_*.py
ls node/migrations/versions/"${rev}"_*.py
