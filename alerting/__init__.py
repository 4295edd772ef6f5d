"""The alerting stage: alert rules over the classified stream, stories, throttles and silences."""
