"""`python -m services.credit`: serve the credit model on CREDIT_HOST:CREDIT_PORT."""

from kit.serve import serve
from services.credit.settings import CreditSettings

if __name__ == "__main__":
    serve("services.credit.app:build_app", CreditSettings())
