"""Spending forecast service: monthly spending with intervals from Prophet (Indian holidays) and
Theta, a transaction store per user, and an M3 benchmark."""
