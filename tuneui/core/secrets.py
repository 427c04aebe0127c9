"""API keys: read from the environment or the system keyring, never written anywhere.

A key is looked up by its environment variable name, as each provider declares it
(`tuneui.core.providers`). The keyring entry uses the same name under the service "tuneui"
(`keyring set tuneui NAME`). Every value
handed out is remembered for this process so `redact()` can strip it from any text.
"""

from __future__ import annotations

import os
import re

KEYRING_SERVICE = "tuneui"
REDACTED = "[redacted]"

_handed_out: set[str] = set()
# Shapes of keys and auth headers, for secrets this process never loaded itself.
_KEY_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b(bearer|api-key:?)\s+[A-Za-z0-9_\-\.=]{8,}"),
)


def api_key(name: str) -> str | None:
    """The key named `name` from the environment, else the keyring, else None."""
    value = os.environ.get(name, "").strip() or _from_keyring(name)
    if value:
        _handed_out.add(value)
    return value or None


def key_names() -> tuple[str, ...]:
    """The names of every provider's keys (each provider declares its own)."""
    from tuneui.core.providers import key_names as declared

    return declared()


def key_hint(name: str) -> str:
    """The sentence that tells a person how to provide the key `name`."""
    return (
        f"Set the {name} environment variable, or store it in the system keyring with "
        f"`keyring set {KEYRING_SERVICE} {name}`. tuneui never writes keys to disk."
    )


def redact(text: str) -> str:
    """`text` with every key this process loaded or has in its environment, and anything shaped
    like a key, replaced."""
    present = {os.environ.get(name, "").strip() for name in key_names()} - {""}
    for value in sorted(_handed_out | present, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def _from_keyring(name: str) -> str | None:
    # A missing, locked or broken keyring backend (headless ssh sessions) must not stop anything:
    # backends raise anything from KeyringError to RuntimeError, and the environment still works.
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:
        return None
