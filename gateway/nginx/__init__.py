"""nginx in front of the gateway replicas, rendered from Jinja2 templates and settings."""
