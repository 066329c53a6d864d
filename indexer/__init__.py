"""Tifa's indexer: statements in, passages out, a search backend behind one protocol.

Knows nothing of HTTP; the service in `app` builds on it.
"""
