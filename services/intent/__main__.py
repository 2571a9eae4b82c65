"""`python -m services.intent` serves the newest trained intent model on port 8001."""

from kit.serve import serve
from services.intent.settings import IntentSettings

if __name__ == "__main__":
    serve("services.intent.app:build_app", IntentSettings())
