"""Pure analysis: timelines, statement diffs, series norms and anomalies, discovery
(recurring n-grams, keyness), and the loaders of the lexicon and series definitions.

Plain values in, frozen dataclasses out; nothing here sees a backend or a request.
"""
