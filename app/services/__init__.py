"""Services: the seed's analysis as queries over a `Search` (formulas, series, diffs,
discovery). They take a Search and plain values, return frozen dataclasses, raise
`indexer.errors` and know nothing of HTTP; routes and the CLI are thin layers over them.
"""
