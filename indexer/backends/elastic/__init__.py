"""The Elasticsearch backend: pure request builders (`build`), the backend that executes
them (`backend`), and the index settings and mappings as data (`mappings.json`)."""
