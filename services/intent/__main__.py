"""`python -m services.intent` serves the newest trained intent model on port 8001."""

from kit.serve import serve
from services.intent.app import build_app
from services.intent.settings import IntentSettings

if __name__ == "__main__":
    settings = IntentSettings()
    serve(build_app(settings), settings)
