"""A synthetic ticket-labelling task: four labels, eight telling words each.

Small enough to fine-tune on in seconds and plain enough that a few LoRA steps move the
embedded model; shared by the fine-tuning tests and ``bench/finetune_train.py`` so the bench
measures the task the tests check.
"""

from __future__ import annotations

WORDS: dict[str, list[str]] = {
    "billing": ["invoice", "refund", "charge", "payment", "receipt", "price", "card", "bill"],
    "bug": ["crash", "error", "freeze", "broken", "glitch", "timeout", "blank", "stuck"],
    "feature": ["dark mode", "export", "shortcut", "widget", "filter", "theme", "tag", "sync"],
    "account": ["password", "login", "email", "username", "avatar", "profile", "2fa", "signup"],
}
