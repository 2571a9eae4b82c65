"""The finfleet gateway: one async front door for every model service."""
