"""`python -m services.ner`: serve the newest trained model on NER_PORT (default 8002)."""

from kit.serve import serve
from services.ner.settings import NerSettings

if __name__ == "__main__":
    serve("services.ner.app:build_app", NerSettings())
