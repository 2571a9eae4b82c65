"""finfleet's Python client: `from finfleet import Client, AsyncClient`."""

from finfleet.client import (
    Answer,
    AsyncClient,
    Client,
    ConnectionFailed,
    FanoutAnswer,
    FinfleetError,
    InvalidInput,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
    Unavailable,
)

__all__ = ["Answer", "AsyncClient", "Client", "ConnectionFailed", "FanoutAnswer",
           "FinfleetError", "InvalidInput", "NotFound", "RateLimited", "ServerError", "Timeout",
           "Unauthorized", "Unavailable"]
