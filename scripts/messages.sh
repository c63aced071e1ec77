#!/usr/bin/env bash
# Re-extract the message ids from node/ and bring the fr and en catalogs up to date.
#
# New ids are added with an empty translation (translate them in the fr catalog; leave the en
# msgstr empty, English being the source language); ids that disappeared from the sources are
# dropped. Run from anywhere: ./scripts/messages.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=.venv/bin/python
PYBABEL=.venv/bin/pybabel
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT
TRANSLATIONS=node/http/pages/translations

if [[ ! -x "$PYBABEL" ]]; then
    echo "error: $PYBABEL not found; create the virtual environment first (pip install -e '.[dev,test]')" >&2
    exit 1
fi

"$PYBABEL" extract -F babel.cfg -k N_ --no-location --sort-output -o "$POT" .

for language in fr en; do
    "$PYBABEL" update -i "$POT" -d "$TRANSLATIONS" -l "$language" \
        --no-fuzzy-matching --ignore-obsolete
done

# List the French ids still to translate (English needs none: an empty msgstr means "use the id").
"$PYTHON" - "$TRANSLATIONS/fr/LC_MESSAGES/messages.po" <<'PY'
import sys

from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as handle:
    catalog = read_po(handle, locale="fr")
todo = [
    message.id
    for message in catalog
    if message.fuzzy or not all(message.string if isinstance(message.string, tuple) else [message.string])
]
for message_id in todo:
    print(f"  to translate in fr: {message_id!r}")
print(f"{len(catalog)} ids; {len(todo)} to translate in {sys.argv[1]}")
PY
