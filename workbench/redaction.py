"""Keeping API keys out of everything the workbench writes.

Keys come from the environment and are sent to providers, but a provider (or a proxy in
front of it) may echo one back: in an error body ("Incorrect API key provided: sk-…"), or
in the reply itself. Whatever comes back is stored, printed and put in reports, so it is
redacted on the way in (the gateway) and again where it is persisted (the store).

A secret is any value this process sent as a key (:func:`remember`), plus the value of any
environment variable whose name says it holds one (``OPENAI_API_KEY``, ``HF_TOKEN``,
``AWS_SECRET_ACCESS_KEY``, …), so keys litellm picks up by itself are covered too. Values
shorter than :data:`MIN_LENGTH` are left alone: redacting ``"1"`` would garble every text.
"""

from __future__ import annotations

import os
import re
import time

MIN_LENGTH = 8
MASK = "***"
# Names that end like a key's: OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD.
# (Not any name containing KEY: CACHE_KEY_PREFIX=workbench would garble every text.)
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_remembered: set[str] = set()
_env_cache: tuple[int, float, set[str]] | None = None


def remember(value: str | None) -> None:
    """Register a key this process is about to send, whatever its variable is called."""
    if value and len(value) >= MIN_LENGTH:
        _remembered.add(value)


def _environment_secrets() -> set[str]:
    """Secret-looking environment values, re-read when the environment grows or shrinks and
    at most once a second otherwise: scanning it costs ~0.1 ms, and every cell asks twice."""
    global _env_cache
    now = time.monotonic()
    size = len(os.environ)
    if _env_cache is None or _env_cache[0] != size or now - _env_cache[1] > 1.0:
        values = {value for name, value in os.environ.items()
                  if len(value) >= MIN_LENGTH and _SECRET_NAME.search(name)}
        _env_cache = (size, now, values)
    return _env_cache[2]


def known_secrets() -> list[str]:
    """Every value to redact, longest first (so a key containing another is masked whole)."""
    return sorted(_remembered | _environment_secrets(), key=len, reverse=True)


def redact(text: str, values: list[str] | None = None) -> str:
    """``text`` with every secret replaced by ``***``."""
    for value in known_secrets() if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_optional(text: str | None, values: list[str] | None = None) -> str | None:
    return None if text is None else redact(text, values)


def is_secret_name(name: str) -> bool:
    """Whether a variable or parameter name says it holds a credential (``api_key``, …)."""
    return bool(_SECRET_NAME.search(name))


def no_credentials(params: dict[str, object]) -> dict[str, object]:
    """Refuse a credential written into a file's ``params``: it would be stored and reported."""
    found = sorted(k for k in params if is_secret_name(str(k)))
    if found:
        raise ValueError(
            f"{', '.join(found)} in params: keys never go in files, where runs would store "
            "them; put the key in an environment variable and name it with api_key_env")
    return params
