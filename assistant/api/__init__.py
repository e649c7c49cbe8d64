"""The HTTP face of the assistant: JSON API, OpenAI-compatible API, chat page, widget."""

from assistant.api.app import create_app

__all__ = ["create_app"]
