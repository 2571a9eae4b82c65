"""What `make demo` prints for an anomaly answer: the score, the verdict and the reasons."""


def summarise(prediction: dict) -> str:
    verdict = "ANOMALY" if prediction["is_anomaly"] else "normal"
    return f"score {prediction['score']:.3f} → {verdict}; " + "; ".join(prediction["reasons"])
