"""promptfoo providers → the suite's models (litellm names, ``api_base``, ``api_key_env``).

A provider is ``"openai:chat:gpt-4o-mini"``, ``{id, label, config}``, or the older
``{"openai:gpt-4o": {config: ...}}``; ``targets`` is the newer name of the list. The id's
prefix picks the litellm provider (:data:`PREFIXES`); ``config.apiBaseUrl`` /
``apiHost`` become ``api_base`` and ``apiKeyEnvar`` becomes ``api_key_env``, so any
OpenAI-compatible server keeps working; sampling keys become params (:mod:`.params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.config.yaml import Loc, Located
from workbench.importers.promptfoo.files import Folder, Spot, is_file_ref, spot
from workbench.importers.promptfoo.outcome import Outcome
from workbench.importers.promptfoo.params import provider_params

# promptfoo prefix (longest first wins) → litellm prefix.
PREFIXES: list[tuple[str, str]] = [
    ("openai:chat:", "openai/"),
    ("openai:responses:", "openai/"),
    ("openai:completion:", "text-completion-openai/"),
    ("openai:", "openai/"),
    ("anthropic:messages:", "anthropic/"),
    ("anthropic:completion:", "anthropic/"),
    ("anthropic:", "anthropic/"),
    ("ollama:chat:", "ollama_chat/"),
    ("ollama:completion:", "ollama/"),
    ("ollama:", "ollama/"),
    ("vertex:chat:", "vertex_ai/"),
    ("vertex:", "vertex_ai/"),
    ("google:", "gemini/"),
    ("bedrock:converse:", "bedrock/converse/"),
    ("bedrock:completion:", "bedrock/"),
    ("bedrock:", "bedrock/"),
    ("azure:chat:", "azure/"),
    ("azureopenai:chat:", "azure/"),
    ("azure:completion:", "azure_text/"),
    ("mistral:", "mistral/"),
    ("groq:", "groq/"),
    ("deepseek:", "deepseek/"),
    ("openrouter:", "openrouter/"),
    ("togetherai:", "together_ai/"),
    ("perplexity:", "perplexity/"),
    ("fireworks:", "fireworks_ai/"),
    ("xai:", "xai/"),
    ("cohere:", "cohere/"),
    ("litellm:", ""),
]
NOTES = {
    "openai:responses:": "sent through the chat completions API",
    "openai:completion:": "a completions (not chat) model",
    "anthropic:completion:": "promptfoo's legacy completion API; litellm uses messages",
}


@dataclass(frozen=True)
class MappedModel:
    """One model of the suite, and the promptfoo id it came from."""

    spec: dict[str, Any]
    source: str
    where: Spot


def litellm_name(provider_id: str) -> tuple[str, str] | None:
    """``openai:chat:gpt-4o`` → (``openai/gpt-4o``, note), or None when there is no match."""
    for prefix, target in PREFIXES:
        if provider_id.startswith(prefix) and len(provider_id) > len(prefix):
            return target + provider_id[len(prefix):], NOTES.get(prefix, "")
    return None


def read_providers(doc: Located, folder: Folder, outcome: Outcome) -> list[MappedModel]:
    key = "providers" if "providers" in doc.data else "targets"
    raw = doc.data.get(key)
    if raw is None:
        raise spot(doc, ()).problem("the config has no 'providers'",
                                    "name at least one model, e.g. openai:chat:gpt-4o-mini")
    if is_file_ref(raw):
        path = folder.resolve(raw, spot(doc, (key,)))
        sub = folder.load_doc(path)
        return _read_list(sub.data, sub, (), folder, outcome)
    return _read_list(raw, doc, (key,), folder, outcome)


def _read_list(raw: Any, doc: Located, loc: Loc, folder: Folder,
               outcome: Outcome) -> list[MappedModel]:
    items = raw if isinstance(raw, list) else [raw]
    models: list[MappedModel] = []
    for i, item in enumerate(items):
        here: Loc = (*loc, i) if isinstance(raw, list) else loc
        mapped = _provider(item, doc, here, folder, outcome)
        if mapped is None:
            continue
        same = [m for m in models if m.spec["name"] == mapped.spec["name"]]
        if same:
            outcome.unsupported(f"provider {mapped.source}", str(mapped.where),
                                f"the same model as {same[0].source} (line "
                                f"{same[0].where.line}); a suite lists each model once: put "
                                "the other settings in a second prompt version's params")
            continue
        models.append(mapped)
    return models


def _provider(item: Any, doc: Located, loc: Loc, folder: Folder,
              outcome: Outcome) -> MappedModel | None:
    where = spot(doc, loc)
    config: dict[str, Any] = {}
    config_loc: Loc = (*loc, "config")
    if isinstance(item, str):
        provider_id = item
    elif isinstance(item, dict) and "id" in item:
        provider_id = item["id"]
        config = item.get("config") or {}
        for key in sorted(set(item) - {"id", "label", "config"}):
            outcome.unsupported(f"provider key {key}", str(spot(doc, (*loc, key))),
                                "per-provider prompt filters, transforms and delays have no "
                                "workbench equivalent")
    elif isinstance(item, dict) and len(item) == 1:
        provider_id, body = next(iter(item.items()))
        config = (body or {}).get("config") or {} if isinstance(body, dict) else {}
        config_loc = (*loc, provider_id, "config")
    else:
        outcome.unsupported("provider", str(where), "a provider must be an id or {id, config}")
        return None
    if not isinstance(provider_id, str) or not isinstance(config, dict):
        outcome.unsupported("provider", str(where), "a provider must be an id or {id, config}")
        return None
    mapped = litellm_name(provider_id)
    if mapped is None:
        outcome.unsupported(f"provider {provider_id}", str(where),
                            "no litellm equivalent (custom HTTP, script and echo providers "
                            "cannot be imported); name the model as litellm does")
        return None
    name, note = mapped
    spec: dict[str, Any] = {"name": name}
    notes = [n for n in [note] if n]
    base = config.get("apiBaseUrl")
    if base is None and config.get("apiHost"):
        host = str(config["apiHost"]).rstrip("/")
        base = f"https://{host}" + ("" if provider_id.startswith("azure") else "/v1")
        notes.append(f"apiHost → api_base {base}")
    if base is not None:
        spec["api_base"] = str(base)
    if config.get("apiKeyEnvar"):
        spec["api_key_env"] = str(config["apiKeyEnvar"])
    params = provider_params(config, doc, config_loc, folder, outcome, f"{provider_id} config")
    for key, param in (("apiVersion", "api_version"), ("projectId", "vertex_project"),
                       ("deployment_id", "deployment_id")):
        if key in config:
            params[param] = config[key]
    if "region" in config:
        params["vertex_location" if name.startswith("vertex") else "aws_region_name"] = (
            config["region"])
    if params:
        spec["params"] = params
    changed = name != provider_id
    text = f"→ {name}" + (f" ({'; '.join(notes)})" if notes else "")
    if changed:
        outcome.converted(f"provider {provider_id}", str(where), text)
    else:
        outcome.imported(f"provider {provider_id}", str(where))
    return MappedModel(spec, provider_id, where)


def grading_model(value: Any) -> str | None:
    """A grader (``options.provider``, an assertion's ``provider``) as a litellm name."""
    provider_id = value.get("id") if isinstance(value, dict) else value
    if not isinstance(provider_id, str):
        return None
    mapped = litellm_name(provider_id)
    return mapped[0] if mapped else None
