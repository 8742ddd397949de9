"""Model access: the litellm gateway, retries and the embedded local provider."""
