"""What `make demo` prints for an intent answer: the label and the runners-up."""


def summarise(prediction: dict) -> str:
    others = ", ".join(f"{a['label']} {a['confidence']:.2f}" for a in prediction["alternatives"])
    return f"{prediction['label']} ({prediction['confidence']:.2f}); next: {others}"
