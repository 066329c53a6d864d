"""Settings: one typed class read from the environment (prefix TIFA_), with defaults that
run locally with nothing set (embedded engine, data under ./var)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable about a Tifa process."""

    model_config = SettingsConfigDict(env_prefix="TIFA_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the embedded index and keys live.")
    backend: Literal["embedded", "elasticsearch"] = "embedded"
    corpus_dir: Path = Field(Path("corpus"), description="The bundled data: lexicon, series.")
    native: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Plain phrases through the native matcher (native/, built by ./run when "
        "a Rust toolchain is present): 'auto' uses it when installed, 'on' refuses to start "
        "without it, 'off' never uses it. Answers are the same; only speed differs.",
    )
    match_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads the native matcher uses for one query's segments. 0: one per "
        "CPU, at most 4 (under 64 clients, 1 and 2 threads per query gave the same "
        "throughput on 2 cores with 2 workers; one user's slow queries gain from more).",
    )

    es_url: str = "http://127.0.0.1:9200"
    es_index: str = "tifa"
    es_api_key: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    es_ca_certs: Path | None = None
    es_shards: int = 1
    es_replicas: int = 0

    host: str = "127.0.0.1"
    port: int = 8000
    root_path: str = Field("", description="Path prefix when served behind a proxy.")
    embed_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to frame /embed pages."
    )
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 50_000_000
    cache_size: int = 1024
    read_access: Literal["open", "key"] = Field(
        "open", description="'key': every read needs an API key too (writes always do)."
    )
    request_timeout_s: float = Field(
        10.0,
        description="Deadline for answering a read (GET) request once it is being worked "
        "on; past it, 504.",
    )
    work_slots: int = Field(
        0,
        description="Reads worked on at once in each server process; more wait their turn "
        "in arrival order. 0: 2 with the embedded index (its searches are CPU-bound and "
        "share one interpreter lock), 16 with Elasticsearch (its reads mostly wait on it).",
    )
    queue_timeout_s: float = Field(
        30.0,
        description="How long a read may wait for a work slot; past it, 503 with Retry-After.",
    )
    idempotency_ttl_s: int = Field(
        86_400, description="How long a POST's Idempotency-Key and its response are kept."
    )
    log_level: str = Field("INFO", description="Level of the JSON logs of the service.")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.backend == "elasticsearch" and not self.es_url:
            raise ValueError("TIFA_BACKEND=elasticsearch needs TIFA_ES_URL")
        if self.es_api_key and (self.es_username or self.es_password):
            raise ValueError("give either TIFA_ES_API_KEY or a username/password, not both")
        if self.root_path and not self.root_path.startswith("/"):
            raise ValueError("TIFA_ROOT_PATH must start with '/'")
        return self

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.request_timeout_s <= 0:
            raise ValueError("TIFA_REQUEST_TIMEOUT_S must be positive")
        if self.work_slots < 0:
            raise ValueError("TIFA_WORK_SLOTS must be 0 (automatic) or more")
        if self.queue_timeout_s <= 0:
            raise ValueError("TIFA_QUEUE_TIMEOUT_S must be positive")
        if self.max_body_bytes <= 0:
            raise ValueError("TIFA_MAX_BODY_BYTES must be positive")
        if "*" in self.cors_origins and len(self.cors_origins) > 1:
            raise ValueError("TIFA_CORS_ORIGINS: '*' allows every origin; give it alone")
        return self

    @property
    def read_slots(self) -> int:
        """`work_slots`, with 0 resolved for the backend."""
        if self.work_slots:
            return self.work_slots
        return 2 if self.backend == "embedded" else 16

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def keys_path(self) -> Path:
        """The SQLite file of API keys and idempotency records."""
        return self.data_dir / "keys.sqlite"
