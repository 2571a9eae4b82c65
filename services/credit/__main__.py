"""`python -m services.credit`: serve the credit model on CREDIT_HOST:CREDIT_PORT."""

from kit.serve import serve
from services.credit.app import build_app
from services.credit.settings import CreditSettings

if __name__ == "__main__":
    settings = CreditSettings()
    serve(build_app(settings), settings)
