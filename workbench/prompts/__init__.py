"""The prompt library: versioned prompt files, labels, references and sandboxed rendering."""

from workbench.prompts.library import PromptLibrary, Ref
from workbench.prompts.spec import Example, Message, PromptSpec, Step
from workbench.prompts.version import PromptVersion, RenderedStep, content_hash, parse_version_text

__all__ = [
    "Example",
    "Message",
    "PromptLibrary",
    "PromptSpec",
    "PromptVersion",
    "Ref",
    "RenderedStep",
    "Step",
    "content_hash",
    "parse_version_text",
]
