"""Stage 2: `<prefix>.headlines.raw` -> classify (with `rules`) -> `<prefix>.headlines.classified`
and `<prefix>.category.<id>`; later, alert rules -> `<prefix>.alerts`.

`classify` is the pure step; `app` is the faust application and its agents and tables.
"""
