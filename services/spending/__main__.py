"""`python -m services.spending`: serve the spending model on SPENDING_HOST:SPENDING_PORT."""

from kit.serve import serve
from services.spending.settings import SpendingSettings

if __name__ == "__main__":
    serve("services.spending.app:build_app", SpendingSettings())
