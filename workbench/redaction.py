"""Keeping API keys out of everything the workbench writes.

Keys come from the environment and are sent to providers, but a provider (or a proxy in
front of it) may echo one back: in an error body ("Incorrect API key provided: sk-…"), or
in the reply itself. Whatever comes back is stored, printed and put in reports, so it is
redacted on the way in (the gateway) and again where it is persisted (the store).

A secret is any value this process sent as a key (:func:`remember`), plus the value of any
environment variable whose name says it holds one (``OPENAI_API_KEY``, ``HF_TOKEN``,
``AWS_SECRET_ACCESS_KEY``, …), so keys litellm picks up by itself are covered too. Values
shorter than :data:`MIN_LENGTH` are left alone: redacting ``"1"`` would garble every text.

Keys this process never saw are caught by their shape: text that looks like a provider's
key (``sk-…``, ``AKIA…``, ``ghp_…``, a JWT, ``Bearer …``), the password in a URL
(``https://user:pass@host``) and secret-named query parameters (``?api_key=…``) are masked
too. Structured data (a run's plan, a step's parameters) is walked by :func:`redact_data`,
which masks every value under a secret-named key (``extra_headers.Authorization``).
"""

from __future__ import annotations

import os
import re
import time

MIN_LENGTH = 8
MASK = "***"
# Names that end like a key's: OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD.
# (Not any name containing KEY: CACHE_KEY_PREFIX=workbench would garble every text.)
_SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTHORIZATION|COOKIE)$", re.IGNORECASE)
# What providers' keys look like: a known prefix and a long random tail, so ordinary words
# never match. Searched only inside long runs of key characters (cheap to find).
_KEY_CANDIDATE = re.compile(r"[A-Za-z0-9_.\-]{15,}")
_KEY_SHAPE = re.compile(
    r"""(?<![A-Za-z0-9])(?:
        (?:sk|pk|rk)-(?:proj-|ant-|or-v1-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_\-]{20,}
      | sk_(?:live|test)_[A-Za-z0-9]{16,}
      | (?:AKIA|ASIA)[0-9A-Z]{16}
      | AIza[0-9A-Za-z_\-]{35}
      | gh[pousr]_[A-Za-z0-9]{30,}
      | github_pat_[A-Za-z0-9_]{40,}
      | hf_[A-Za-z0-9]{30,}
      | xox[abpr]-[A-Za-z0-9\-]{10,}
      | glpat-[A-Za-z0-9_\-]{20,}
      | (?:gsk|r8|nvapi|pplx|xai)[_-][A-Za-z0-9_\-]{30,}
      | eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}
    )""", re.VERBOSE)
# A credential after an auth scheme: "Authorization: Bearer <token>".
_AUTH_SCHEME = re.compile(r"\b((?:Bearer|Basic|Token)\s+)(?!\*\*\*)[A-Za-z0-9._~+/=\-]{16,}",
                          re.IGNORECASE)
_AUTH_WORDS = ("Bearer", "bearer", "BEARER", "Basic ", "BASIC ", "Token ", "TOKEN ")
# In a URL: the password of user:password@host, and secret-named query values.
_URL_USERINFO = re.compile(r"(://)[^/\s:@]+:[^/\s@]+(?=@)")
_URL_SECRET_QUERY = re.compile(
    r"([?&][A-Za-z0-9_\-]*(?:key|token|secret|password|passwd|sig|signature|auth)"
    r"[A-Za-z0-9_\-]*=)[^&\s#\"']+", re.IGNORECASE)
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


def _mask_candidate(match: re.Match[str]) -> str:
    return _KEY_SHAPE.sub(MASK, match.group(0))


def redact_shapes(text: str) -> str:
    """``text`` with whatever looks like a key masked (see the module note)."""
    text = _KEY_CANDIDATE.sub(_mask_candidate, text)
    if any(word in text for word in _AUTH_WORDS):
        text = _AUTH_SCHEME.sub(r"\1" + MASK, text)
    if "://" in text:
        text = _URL_USERINFO.sub(r"\1" + MASK, text)
        text = _URL_SECRET_QUERY.sub(r"\1" + MASK, text)
    return text


def redact(text: str, values: list[str] | None = None) -> str:
    """``text`` with every secret, and anything shaped like a key, replaced by ``***``."""
    for value in known_secrets() if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return redact_shapes(text)


def redact_data(value: object, values: list[str] | None = None) -> object:
    """A copy of JSON-like data with every value under a secret-named key masked and every
    string redacted (see :func:`redact`)."""
    values = known_secrets() if values is None else values
    if isinstance(value, str):
        return redact(value, values)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_name(str(k)) and v not in (None, "") else
                    redact_data(v, values)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, values) for v in value]
    return value


def remember_in(value: object) -> None:
    """Remember the secrets inside data about to be sent: values under secret-named keys
    and the password or secret query values of URLs, so an echo of them is masked."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if is_secret_name(str(key)) and isinstance(child, str):
                    remember(child)
                    remember(child.split(" ", 1)[-1])  # "Bearer <token>": the token too
                else:
                    stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str) and "://" in item:
            for pattern in (_URL_USERINFO, _URL_SECRET_QUERY):
                for match in pattern.finditer(item):
                    remember(match.group(0)[len(match.group(1)):])


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
