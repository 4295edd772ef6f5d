"""The classify stage: `<prefix>.headlines.raw` -> classify (with `rules`) ->
`<prefix>.headlines.classified`, `<prefix>.category.<id>` and `<prefix>.alerting.work`.

`classify` is the pure step; `stage` its handler on the transactional loop (core/stage.py);
`service` the `watchfloor process` command's setup.
"""
