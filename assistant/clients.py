"""Who asked, without keeping who it was: a keyed digest of a client's address or phone
number, stored with each turn so that one client's share of the report can be capped.

The key is random, made once per data dir (``data_dir/client.key``, readable by the
server only): without it the digest of an IPv4 address cannot be reversed by trying all
four billion of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["ClientKeys"]

KEY_FILE = "client.key"


class ClientKeys:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def in_dir(cls, data_dir: Path) -> ClientKeys:
        """The data dir's key, made on first use (by whichever process comes first)."""
        path = data_dir / KEY_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Written whole under another name, then linked: a reader never sees half a key.
            draft = data_dir / f".{KEY_FILE}.{os.getpid()}"
            draft.write_text(secrets.token_hex(32))
            draft.chmod(0o600)
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        key = path.read_text().strip()
        return cls(bytes.fromhex(key))

    def digest(self, client: str) -> str:
        """32 hex characters naming ``client`` (an address key, a phone number)."""
        return hmac.new(self._key, client.encode(), hashlib.sha256).hexdigest()[:32]
