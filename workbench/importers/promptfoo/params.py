"""A promptfoo provider's (or prompt's) ``config`` → the workbench's model params.

Sampling keys keep their OpenAI names (litellm translates them per provider); the few
providers that spell them differently (Ollama's ``num_predict``, Gemini's
``generationConfig``) are renamed. Keys that locate or authenticate the model are the
provider module's business; anything else is reported, and a key written into the config
is never copied (the workbench reads keys from the environment only).
"""

from __future__ import annotations

from typing import Any

from workbench.config.yaml import Loc, Located
from workbench.importers.promptfoo.files import Folder, is_file_ref, spot
from workbench.importers.promptfoo.outcome import Outcome

SAME = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "top_k", "seed",
        "stop", "frequency_penalty", "presence_penalty", "response_format", "tools",
        "tool_choice", "logit_bias", "reasoning_effort")
RENAMED = {"num_predict": "max_tokens", "maxOutputTokens": "max_tokens", "topP": "top_p",
           "topK": "top_k", "max_output_tokens": "max_tokens"}
# Handled by providers.py (where the model is and how to reach it).
LOCATION_KEYS = {"apiBaseUrl", "apiHost", "apiKeyEnvar", "region", "projectId",
                 "apiVersion", "deployment_id"}
SECRET_KEYS = {"apiKey", "api_key", "accessKeyId", "secretAccessKey", "sessionToken"}


def provider_params(config: dict[str, Any], doc: Located, loc: Loc, folder: Folder,
                    outcome: Outcome, what: str) -> dict[str, Any]:
    """The params of one ``config`` mapping; every other key gets a row."""
    params: dict[str, Any] = {}
    for key, value in config.items():
        where = str(spot(doc, (*loc, key)))
        if key in SAME or key in RENAMED:
            name = RENAMED.get(key, key)
            if is_file_ref(value):
                value = _load_data(value, doc, (*loc, key), folder)
                outcome.converted(f"{what} {key}", where, f"{config[key]} read into the params")
            elif name != key:
                outcome.converted(f"{what} {key}", where, f"→ {name}")
            else:
                outcome.imported(f"{what} {key}", where)
            params[name] = value
        elif key == "generationConfig" and isinstance(value, dict):
            params.update(provider_params(value, doc, (*loc, key), folder, outcome, what))
        elif key in LOCATION_KEYS:
            continue
        elif key in SECRET_KEYS:
            outcome.unsupported(f"{what} {key}", where,
                                "a key written into the config is never copied; set an "
                                "environment variable and name it in api_key_env")
        else:
            outcome.unsupported(f"{what} {key}", where, "no workbench equivalent")
    return params


def _load_data(ref: str, doc: Located, loc: Loc, folder: Folder) -> Any:
    """A ``file://`` JSON/YAML value (e.g. a response_format schema)."""
    path = folder.resolve(ref, spot(doc, loc))
    return folder.load_doc(path).data
