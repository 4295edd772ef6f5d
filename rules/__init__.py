"""Operator-edited keyword rules: file format (`model`), one loader/checker (`loader`),
the compiled multi-pattern matcher (`engine`), and the default packs (`packs/`).

Free of Kafka and faust, so `classify`, `rules eval`, the processor and the benchmarks all run
the very same matcher.
"""
