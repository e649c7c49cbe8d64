"""Bodies of the OpenAI-compatible ``/v1`` routes: OpenAI's shapes, plus our citations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.api.schemas import CitationOut, Filters

__all__ = [
    "MAX_MESSAGES",
    "MODEL_ID",
    "AnswerInfo",
    "Choice",
    "Completion",
    "CompletionMessage",
    "CompletionRequest",
    "ContentPart",
    "Message",
    "Model",
    "ModelList",
]

MODEL_ID = "export-assistant"
MAX_MESSAGES = 200  # a long chat's history; only the last history_turns pairs are used


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """OpenAI's request; sampling options (temperature, max_tokens…) are accepted and
    ignored. ``filters`` is ours (send it with ``extra_body`` from the OpenAI SDK)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [{"role": "user", "content": "What is an EORI number?"}],
                    "stream": False,
                }
            ]
        },
    )

    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    filters: Filters | None = None


class AnswerInfo(BaseModel):
    refused: bool
    language: str
    mode: str
    notices: list[str]
    lexical_only: bool
    confidence: float | None = Field(
        description="How likely the answer holds what answers the question (0 to 1); "
        "null when not estimated."
    )


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"


class Completion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    citations: list[CitationOut]
    answer: AnswerInfo


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
