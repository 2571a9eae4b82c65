"""What `make demo` prints for a forecast: the method, each month and the total, in rupees."""


def _money(x: float) -> str:
    return f"₹{x:,.0f}"


def summarise(prediction: dict) -> str:
    rows = [f"{m['month']}  {_money(m['yhat']):>10}  [{_money(m['lower'])} – "
            f"{_money(m['upper'])}]" for m in prediction["forecast"]]
    total = prediction["total"]
    return "\n".join([f"method {prediction['method']}", *rows,
                      f"total {_money(total['yhat'])} [{_money(total['lower'])} – "
                      f"{_money(total['upper'])}]"])
