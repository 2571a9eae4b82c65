"""`merchant_lexicon`: a merchant the lexicon knows is a MERCHANT, whatever the `ner` guessed.

The trained `ner` labels merchants from context, so its label for a well-known name depends on
its random initialisation (one seed tagged "Zomato" as CATEGORY in "Paid Rs. 640 to Zomato").
The lexicon's names are not in doubt: this step runs after the `ner` and makes each of them a
MERCHANT, replacing whatever entity overlapped it; the longest name wins ("Amazon Prime", not
"Amazon"). A name that starts an account product ("Amazon Pay card") is left to the `ner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from services.ner.lexicons import MERCHANTS

# Names that are also everyday words match only as written: "an apple" is fruit.
EVERYDAY_WORDS = {"Apple", "Subway"}
# A known name followed by one of these is part of an account ("Amazon Pay wallet").
ACCOUNT_WORDS = {"pay", "card", "wallet", "account", "balance"}


def spellings(name: str) -> Iterator[str]:
    """As written, and in lower and upper case as chat users type it ("swiggy", "ZOMATO")."""
    yield name
    if name not in EVERYDAY_WORDS:
        yield name.lower()
        yield name.upper()


class MerchantLexicon:
    def __init__(self, nlp: Language, names: Iterable[str] = MERCHANTS) -> None:
        self.matcher = PhraseMatcher(nlp.vocab)
        forms = sorted({form for name in names for form in spellings(name)})
        self.matcher.add("MERCHANT", [nlp.make_doc(form) for form in forms])

    def known_merchants(self, doc: Doc) -> list[Span]:
        spans = filter_spans(self.matcher(doc, as_spans=True))
        return [s for s in spans if s.end == len(doc) or doc[s.end].lower_ not in ACCOUNT_WORDS]

    def __call__(self, doc: Doc) -> Doc:
        merchants = self.known_merchants(doc)
        if not merchants:
            return doc
        taken = {i for span in merchants for i in range(span.start, span.end)}
        others = [e for e in doc.ents if taken.isdisjoint(range(e.start, e.end))]
        doc.ents = sorted([*others, *merchants], key=lambda span: span.start)
        return doc


@Language.factory("merchant_lexicon")
def make_merchant_lexicon(nlp: Language, name: str) -> MerchantLexicon:
    return MerchantLexicon(nlp)
