"""The operators' web console: live stories and alerts, counts, silences, a rule test box."""
