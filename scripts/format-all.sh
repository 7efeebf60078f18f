#!/usr/bin/env bash
# Formats the whole code base once with Biome (biome.json), then makes `npm run lint` check the
# formatting too (biome check = lint + format). Run once by the lead after merging, in its own commit:
#   scripts/format-all.sh && npm run check && git commit -am "format: the code base formatted once by Biome"
set -euo pipefail
cd "$(dirname "$0")/.."
npx biome format --write .
npm pkg set scripts.lint="biome check ."
npx biome check .
