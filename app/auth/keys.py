"""API keys: a random 32-byte token shown once; only its sha256 is stored.

A key is high-entropy, so a plain (unsalted) sha256 is enough to make a stolen table useless and
lets us look a key up by its hash in one indexed query.
"""

import hashlib
import hmac
import secrets

from store.api_keys import ApiKeyStore
from store.conversation_records import ApiKeyInfo

KEY_PREFIX = "kb-"
SHOWN_PREFIX_CHARS = 10  # "kb-" and a few characters, so a user can tell their keys apart


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    def __init__(self, store: ApiKeyStore) -> None:
        self.store = store

    def create(self, user_id: int) -> tuple[str, ApiKeyInfo]:
        """A new key for the user: (the key, to show once; its stored record)."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        return key, self.store.add(user_id, key[:SHOWN_PREFIX_CHARS], hash_key(key))

    def owner(self, key: str) -> str | None:
        """The user name a presented key belongs to, or None for an unknown or revoked key."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        name = self.store.owner_of(digest)
        # The lookup is by exact hash; compare again in constant time for good measure.
        return name if name is not None and hmac.compare_digest(digest, hash_key(key)) else None
