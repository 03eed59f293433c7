"""Public web endpoints: platform webhooks and the web chat page."""
