"""What the page needs to draw the map's background: a tile server's URL template and whom to
credit, or nothing (the page then draws the vendored country outlines and needs no network)."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.settings import Settings

OSM = {"attribution": "© OpenStreetMap contributors", "attribution_url": "https://www.openstreetmap.org/copyright"}


def map_config(settings: Settings) -> dict:
    """`{"tiles", "attribution", "attribution_url"}`; tile servers' terms ask for a credit, so there is one by default."""
    url = settings.console_tile_url
    if not url:
        return {"tiles": None, "attribution": None, "attribution_url": None}
    host = (urlsplit(url).hostname or "").lower()
    if host == "openstreetmap.org" or host.endswith(".openstreetmap.org"):
        return {"tiles": url, **OSM}
    return {"tiles": url, "attribution": f"Map tiles: {host.removeprefix('{s}.')}", "attribution_url": None}
