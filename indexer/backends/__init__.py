"""Search backends behind one protocol (`base.Backend`): embedded tantivy and Elasticsearch."""
