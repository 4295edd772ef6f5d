"""The notifiers stage: `<prefix>.alerts` -> Apprise channels.

- `channels`: the Apprise config (or the console) and tag routing, through Apprise itself
- `format`: an Alert rendered for Slack, email or plain text, feed text escaped per channel
- `deliver`: one alert to every channel of its tags, retried, dead-lettered, logged
- `delivery_log`: which alert reached which channel, so a redelivered alert is not sent twice
- `offsets`: commit points that never pass an unfinished alert
- `redact`: secrets of Apprise URLs kept out of logs and dead letters
- `service`: `watchfloor notify` (run_notifier, send_test)

Importing the package itself stays cheap; Apprise loads with the submodules.
"""
