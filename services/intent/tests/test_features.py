"""The numpy TF-IDF used at serving time must give sklearn's numbers exactly."""

import numpy as np
import pytest

from services.intent.train import fit_tfidf

TEXTS = [
    "Pay my BESCOM bill of ₹1,450 today",
    "what's   my  CIBIL score?? it dropped!!",
    "a",
    "UPI UPI upi payment to Ramesh - 2k",
    "How much did I spend on Swiggy in Oct-2024?",
]
UNSEEN = ["नमस्ते how r u", "", "zzzz qqqq", "refund from flipkart for my order"]


@pytest.mark.parametrize("block", ["word", "char"])
def test_tfidf_rows_match_sklearn(block):
    pytest.importorskip("sklearn")
    vectorizer, features = fit_tfidf(TEXTS, block)
    expected = vectorizer.transform(TEXTS + UNSEEN).toarray()
    for text, row in zip(TEXTS + UNSEEN, expected, strict=True):
        got = np.zeros(len(features))
        sparse = features.row(text)
        got[sparse.indices] = sparse.values
        np.testing.assert_allclose(got, row, rtol=1e-5, atol=1e-6)
