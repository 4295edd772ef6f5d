"""Stage 1: feeds -> `<prefix>.headlines.raw`.

feeds.yaml (`feeds`) -> HTTP/file fetch (`fetch`) -> feedparser + normalisation (`parse`)
-> seen-id filter (`seen`) -> Kafka (`publish`), driven per feed by `poller`.
"""
