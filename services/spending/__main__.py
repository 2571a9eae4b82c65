"""`python -m services.spending`: serve the spending model on SPENDING_HOST:SPENDING_PORT."""

from kit.serve import serve
from services.spending.app import build_app
from services.spending.settings import SpendingSettings

if __name__ == "__main__":
    settings = SpendingSettings()
    serve(build_app(settings), settings)
