#!/usr/bin/env bash
# Refreshes the console's vendored map files in static/vendor/ from the npm registry (`npm pack`
# fetches and checks each package's tarball; nothing is installed). The page then needs no CDN and
# no internet. Change a version below, run `bash watchfloor/console/vendor.sh`, commit the result.
set -euo pipefail

LEAFLET=1.9.4
TOPOJSON_CLIENT=3.1.0
WORLD_ATLAS=2.0.2

out="$(cd "$(dirname "$0")" && pwd)/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack NAME VERSION -> the package folder
  local tarball
  tarball=$(cd "$work" && npm pack --silent "$1@$2" | tail -1)
  mkdir -p "$work/$1"
  tar -xzf "$work/$tarball" -C "$work/$1"
  echo "$work/$1/package"
}

leaflet=$(unpack leaflet "$LEAFLET")
topojson=$(unpack topojson-client "$TOPOJSON_CLIENT")
atlas=$(unpack world-atlas "$WORLD_ATLAS")

rm -rf "$out/leaflet" "$out/topojson-client" "$out/world-atlas"
mkdir -p "$out/leaflet/images" "$out/topojson-client" "$out/world-atlas"
cp "$leaflet/dist/leaflet.js" "$leaflet/dist/leaflet.css" "$leaflet/LICENSE" "$out/leaflet/"
cp "$leaflet"/dist/images/*.png "$out/leaflet/images/"
cp "$topojson/dist/topojson-client.min.js" "$topojson/LICENSE" "$out/topojson-client/"
cp "$atlas/countries-110m.json" "$atlas/LICENSE" "$out/world-atlas/"

(cd "$out" && find leaflet topojson-client world-atlas -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
du -ab "$out" | sort -k2
echo "vendored leaflet $LEAFLET, topojson-client $TOPOJSON_CLIENT, world-atlas $WORLD_ATLAS into $out"
