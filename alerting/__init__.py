"""The alerting stage: reports grouped into events, alert rules over them, throttles and silences."""
