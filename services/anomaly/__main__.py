"""`python -m services.anomaly`: serve on ANOMALY_HOST:ANOMALY_PORT (default 127.0.0.1:8004)."""

from kit.serve import serve
from services.anomaly.settings import AnomalySettings

if __name__ == "__main__":
    serve("services.anomaly.app:build_app", AnomalySettings())
