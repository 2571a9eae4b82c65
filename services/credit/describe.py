"""What `make demo` prints for a credit answer: PD, score, band, decision and reasons."""


def summarise(prediction: dict) -> str:
    reasons = "; ".join(f"{r['feature']}={r['value']} ({r['direction'].replace('_', ' ')})"
                        for r in prediction["reasons"])
    return (f"PD {prediction['probability_of_default']:.3f}, risk score "
            f"{prediction['risk_score']}, band {prediction['band']} → {prediction['decision']}"
            f"\nreasons: {reasons}")
