"""Generated training sentences: chat-style requests from templates and lexicons, mixed with
report-style prose from `formal.py`.

Entities are followed by ordinary nouns and verbs ("[Croma] laptop", "my [HDFC credit card] bill",
"[electricity] payments", "[Blinkit] keeps charging me") and sit next to capitalised words that
are not entities (people, places), so the `ner` learns where a span ends, not just where a
capitalised word is. Span conventions match the hand-written set's: DATE leaves out
"in/on/since/the", ACCOUNT leaves out "my", CATEGORY leaves out a trailing "bill"/"fees"/... and a
loan kind ("home loan [EMI]"), MONEY leaves out "about/over/up to".
"""

from __future__ import annotations

import random
from collections.abc import Callable

from services.ner import lexicons as lex
from services.ner.data import Piece, Sentence, Slot, fill_template
from services.ner.formal import formal_sentence


def number(rng: random.Random) -> str:
    value = rng.choice(
        [rng.randrange(10, 1000), rng.randrange(100, 100000), rng.randrange(1, 50) * 100]
    )
    if value >= 1000 and rng.random() < 0.6:
        return indian_grouping(value) if rng.random() < 0.5 else f"{value:,}"
    return str(value)


def indian_grouping(value: int) -> str:
    text = str(value)
    head, tail = text[:-3], text[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([g for g in [head, *groups] if g] + [tail])


def money(rng: random.Random) -> str:
    n = number(rng)
    small = f"{rng.randrange(1, 99)}{rng.choice(['', '.5', '.25'])}"
    shapes = [
        f"₹{n}", f"₹ {n}", f"Rs. {n}", f"Rs.{n}", f"Rs {n}", f"INR {n}", f"{n} rupees", f"{n} rs",
        f"Rs. {n}/-", f"₹{small}k", f"{small}k", f"{small} lakh", f"{small} lakhs",
        f"₹{small} lakh", f"INR {small} lakh", f"{small} crore", f"{small} crore rupees",
        f"Rs {small} cr", f"${n}", f"$ {n}", f"USD {n}", f"€{n}", f"{n} euros", f"£{n}",
        f"{n} dollars", n, n, n, f"₹{n}.{rng.randrange(100):02d}", f"{n} bucks", f"{n}rs",
    ]
    return rng.choice(shapes)


def ordinal(day: int) -> str:
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd', 21: 'st', 22: 'nd', 23: 'rd'}.get(day, 'th')}"


def date(rng: random.Random) -> str:
    day, month = rng.randrange(1, 29), rng.choice(lex.MONTH_NAMES)
    year, m = rng.randrange(2018, 2027), rng.randrange(1, 13)
    rel = rng.choice(["last", "this", "next", "previous", "coming"])
    shapes = [
        f"{day} {month}", f"{day} {month} {year}", f"{month} {day}", f"{month} {day}, {year}",
        f"{ordinal(day)} {month}", f"{ordinal(day)} of {month}", ordinal(day), "last night",
        f"{month[:3]} {day}", f"{day} {month[:3]}", f"{day} {month[:3]} {year}",
        f"{ordinal(day)} {month} {year}",
        f"{year}-{m:02d}-{day:02d}", f"{day:02d}/{m:02d}/{year}", f"{day}/{m}/{str(year)[2:]}",
        f"{day:02d}-{m:02d}-{year}", "yesterday", "today", "tomorrow", "day before yesterday",
        f"{rel} {rng.choice(['week', 'month', 'year', 'quarter', 'weekend', 'fortnight'])}",
        f"{rel} {rng.choice(lex.WEEKDAY_NAMES)}", rng.choice(lex.WEEKDAY_NAMES), month,
        f"{month} {year}", f"last {rng.randrange(2, 13)} months",
        f"past {rng.randrange(2, 91)} days",
        f"{rng.randrange(2, 6)} days ago", f"{rng.choice(['a', 'two', 'three'])} weeks ago",
        f"Q{rng.randrange(1, 5)} {year}", f"FY{str(year)[2:]}", f"FY {year}-{str(year + 1)[2:]}",
        f"{rel} financial year", str(year), f"{rel} {month}", rng.choice(lex.FESTIVALS),
        f"last {rng.choice(['one', 'two', 'six', 'three'])} months", "this morning", "tonight",
    ]
    return rng.choice(shapes)


def merchant(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(lex.NAME_SHAPES).format(rng.choice(lex.NAME_PARTS))
    if roll < 0.42:
        word = "".join(rng.choice(lex.BRAND_SYLLABLES) for _ in range(rng.randrange(2, 4)))
        return word.capitalize() + rng.choice(["", "", "", " Foods", " Fresh", " Home", " Pay"])
    return rng.choice(lex.MERCHANTS)


def account(rng: random.Random) -> str:
    bank = rng.choice(lex.BANKS)
    if rng.random() < 0.2 and not bank.endswith("Bank"):
        bank += " Bank"
    digits = f"{rng.randrange(10000):04d}"
    shapes = [
        lambda: f"{bank} {rng.choice(lex.CARD_TYPES)}",
        lambda: f"{bank} {rng.choice(lex.ACCOUNT_TYPES)}",
        lambda: f"{rng.choice(['account', 'card', 'a/c', 'credit card'])} ending {digits}",
        lambda: f"{rng.choice(['card', 'account', 'a/c'])} ending with {digits}",
        lambda: f"{bank} card ending {digits}", lambda: f"{bank} account XX{digits}",
        lambda: rng.choice(lex.WALLETS), lambda: rng.choice(lex.POTS),
    ]
    return rng.choice(shapes)()


def with_trailer(label: str, make: Callable[[random.Random], str], trailers: list[str]):
    """A slot whose entity is followed by a plain noun that is not part of it."""

    def slot(rng: random.Random) -> list[Piece]:
        value = make(rng)
        trailer = rng.choice(trailers)
        if value.lower().split()[-1] in {t.split()[-1] for t in trailers}:
            return [(value, label)]
        return [(value, label), (" " + trailer, None)]

    return slot


def category_with_context(rng: random.Random) -> list[Piece]:
    """"home loan [EMI]", "[electricity] bill", or the bare category."""
    value = rng.choice(lex.CATEGORIES)
    if value.startswith("EMI") and rng.random() < 0.6:
        return [(rng.choice(lex.LOAN_KINDS) + " ", None), (value, "CATEGORY")]
    return with_trailer("CATEGORY", lambda _: value, lex.CATEGORY_TRAILERS)(rng)


def entity(label: str, make: Callable[[random.Random], str]):
    return lambda rng: [(make(rng), label)]


def plain(make: Callable[[random.Random], str]):
    return lambda rng: [(make(rng), None)]


SLOTS: dict[str, Slot] = {
    "m": entity("MONEY", money), "d": entity("DATE", date),
    "o": entity("DATE", lambda r: ordinal(r.randrange(1, 29))),
    "c": entity("CATEGORY", lambda r: r.choice(lex.CATEGORIES)), "C": category_with_context,
    "s": entity("MERCHANT", merchant),
    "S": with_trailer("MERCHANT", merchant, lex.ITEMS),
    "a": entity("ACCOUNT", account), "A": with_trailer("ACCOUNT", account, lex.ACCOUNT_TRAILERS),
    "f": entity("DATE", lambda r: r.choice(lex.FESTIVALS)),
    "person": plain(lambda r: r.choice(lex.PEOPLE)), "place": plain(lambda r: r.choice(lex.PLACES)),
    "item": plain(lambda r: r.choice(lex.ITEMS)),
    "verb": plain(lambda r: r.choice(lex.MERCHANT_VERBS)),
    "count": plain(lambda r: r.choice(["2", "3", "4", "two", "three", "four", "five"])),
}

TEMPLATES = [
    "Spent {m} on {c} {d}", "Paid {m} to {s} using my {a}", "How much did I spend on {c} {d}?",
    "{s} charged {m} to my {a} on {d}", "Show my {c} expenses for {d}",
    "I paid {m} for {c} at {s}", "Transfer {m} from {a} to {a}", "What's my balance in {a}?",
    "Set a {c} budget of {m} for {d}", "Did I order from {s} {d}?", "{m} debited from {a} for {s}",
    "Your {a} was debited by {m} on {d} at {s}", "How much went to {s} {d}", "{c}: {m}",
    "Received {m} in my {a} {d}", "Move {m} to my {a} every month", "compare {c} spend {d} vs {d}",
    "why is my {C} {m} {d}", "I spent {m} at {s} {d} on {c}", "{S} for {m}",
    "Cancel my {s} subscription", "Total spent on {c} and {c} {d}", "invest {m} in {a} {d}",
    "Pay {m} credit card bill from {a} before {d}", "Did {s} refund {m} to my {a}?",
    "Remind me to pay {c} of {m} on {d}", "list all {s} transactions {d}",
    "My {c} spending went up to {m} {d}", "Is {m} too much for {c}?",
    "Booked tickets on {s} for {m}", "{C} of {m} settled through {a}",
    "auto debit of {m} from {a} for {c} on {d}", "how much did {s} cost me {d}",
    "Limit {c} to {m} per month", "UPI payment of {m} to {s} {d}", "{d} I paid {m} for {c}",
    "Add {m} to {a}", "spent {m} on {c} via {a}", "Withdrew {m} from {a} {d}",
    "Top categories {d}?", "Show transactions above {m} {d}", "Got a cashback of {m} from {s}",
    "What did I spend at {s} between {d} and {d}?", "deposit {m} in my {a} by {d}",
    "my {c} was {m} {d}, paid through {a}", "Split {m} {c} bill from {s} with friends",
    "Refund of {m} from {s} credited to {a} on {d}", "How are my {c} costs trending since {d}?",
    "Rent of {m} paid on {d}", "Salary of {m} credited {d}", "I owe {m} for {c}",
    "Give me a summary for {d}", "Which merchant did I spend most at {d}?", "hello there",
    "What can you do?", "Thanks, that helps", "Show me a chart of my spending",
    # entities followed by nouns and verbs, next to people and places, festivals, ordinals
    "Returned the {S} worth {m}", "That {S} cost {m}?", "Where is my {S} from {d}?",
    "Cancelled the {S} ({m})", "Got a {S} for {m} {d}", "Is a {S} worth {m}?",
    "Need a receipt for the {S} of {m}", "Why has {s} {verb} {m} twice?", "{s} just {verb} {m}",
    "Looks like {s} {verb} {m} {d}", "{s} still hasn't returned my {m}",
    "{s} added a {m} convenience fee", "{s} {verb} {m} for {item}", "Last {s} {C} was {m}",
    "Upload the {s} {C} for {d}", "{s} sent a {C} of {m}",
    "Transfer {m} to {person} for the {item}", "{person} owes me {m} for {c}",
    "Got {m} from {person} {d}", "Trip to {place} cost {m} in total",
    "Hotel in {place} via {s} was {m}", "{person} and I split {m} at {s}",
    "Paying {person} {m} every month for {c}", "Ask {person} to send {m} to my {a}",
    "Download my {A} for {d}", "What's the {A}?", "Increase my {A} to {m}", "Reset the {A}",
    "{a} credited {m} interest {d}", "Interest from my {a} came to {m} {d}",
    "Has my {a} received {m} {d}?", "The {a} now holds {m}",
    "Block the {a}, someone used it for {m}", "{a} charged a {m} annual fee",
    "Link my {a} to {s}", "Any way to lower {C}?", "Track {C} separately from {c}",
    "Were {C} higher {d} than {d}?", "Mark the {m} as {c}", "{C} crossed {m} {d}",
    "Log {m} under {C}", "Combined {C} for {d} came out at {m}", "Rent is due on the {o}",
    "My {c} goes out on the {o} each month", "Salary lands on the {o}",
    "Auto-pay {c} on the {o} from {a}", "Set the {c} reminder for the {o}",
    "How much did we spend during {f}?", "{f} shopping came to {m}",
    "Planning {m} for {c} around {f}", "Keep {m} aside for {f}",
    "{f} bonus of {m} credited to {a}", "{S} for {person} was {m}", "{count} {s} orders cost {m}",
    "{s} order for {count} people came to {m}", "{S} on my {a} {d}",
    # verbs before merchants and categories, adjectives before categories, "every day"
    "Ordered {item} from {s} {d}", "Picked up {item} at {s} for {m}", "Grabbed {c} from {s}",
    "Purchased {item} on {s} using {a}", "Renewed the {s} plan for {m}", "Cut down on {c} {d}",
    "Reduce {c} by {m} from {d}", "Renew {c} before {d}", "Ordered {c} on {s} for {m}",
    "{s} brought {c} worth {m}", "The {c} of {m} went out {d}", "Paid {s} for {c}, {m} total",
    "{c} at {s} cost me {m} {d}", "I earn about {m} monthly", "My {a} earns {m} interest a year",
    "Compare my usual {C} with {d}", "Is my typical {c} budget too high?",
    "Flag any unusual {c} charges on my {a}", "List the largest {c} items {d}",
    "Charge it to {a} please", "Used {a} at {s} {d}", "Paid using {a} for {c}",
    "Sent {m} to {person} via {a}", "{c} for {person}'s birthday came to {m}",
    "Split {m} with {person} for {c}", "Spending {m} every day on {c} is a lot",
    "Put {m} into {a} each week", "{c} runs about {m} per week", "Every day I spend {m} on {c}",
    "{m} every month goes to {c} via {a}", "Kept {m} aside each day until {d}",
]

FILLER_WORDS = [
    "the", "a", "an", "and", "or", "but", "so", "because", "if", "when", "then", "also", "just",
    "really", "very", "quite", "still", "again", "maybe", "I", "we", "you", "they", "he", "she",
    "it", "my", "our", "your", "their", "this", "that", "these", "those", "there", "here", "what",
    "which", "who", "is", "was", "are", "were", "be", "been", "have", "has", "had", "do", "did",
    "does", "can", "could", "will", "would", "should", "may", "might", "think", "know", "want",
    "need", "like", "feel", "see", "look", "seem", "said", "told", "asked", "wonder", "guess",
    "hope", "plan", "try", "money", "bill", "cost", "price", "fee", "charge", "payment", "balance",
    "budget", "spend", "saving", "plan", "report", "total", "friend", "family", "mom", "dad",
    "brother", "sister", "office", "home", "school", "trip", "weekend", "party", "meeting", "good",
    "bad", "high", "low", "more", "less", "much", "many", "few", "lot", "little", "new", "old",
    "big", "small", "same", "other", "usual", "(the", ")", "-", ";", ":", "'", '"', "company",
    "market", "business", "revenue", "share", "stock", "interest", "rate", "note", "board",
    "increase", "decrease", "approximately", "about", "around", "nearly", "per", "cent", "percent",
    "%", "million", "units",
]
PREFIXES = ["", "", "", "Hey, ", "Hi! ", "Quick question: ", "Please ", "So ", "FYI ", "Okay, ",
            "hmm ", "Also, ", "By the way, "]
ENDINGS = ["", "", ".", ".", "?", "!", " please", " thanks", "..", " :)"]


def filler(rng: random.Random) -> str:
    return " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randrange(3, 12)))


def chat_sentence(rng: random.Random) -> Sentence:
    """One chat request: template + slots, random prefix/ending/filler clause and casing."""
    if rng.random() < 0.08:
        return Sentence(filler(rng).capitalize() + rng.choice(ENDINGS), ())
    template = rng.choice(TEMPLATES)
    if rng.random() < 0.2:
        template += rng.choice([", ", " - ", " because ", " and "]) + filler(rng)
    template = rng.choice(PREFIXES) + template + rng.choice(ENDINGS)
    return recase(fill_template(template, SLOTS, rng), rng)


def recase(sentence: Sentence, rng: random.Random) -> Sentence:
    """A fifth typed all lower-case; otherwise mostly sentence case (a leading entity too)."""
    text = sentence.text
    if rng.random() < 0.2:
        lowered = text.lower()
        text = lowered if len(lowered) == len(text) else text
    elif text[:1].islower() and rng.random() < 0.7:
        text = text[0].upper() + text[1:]
    return Sentence(text, sentence.entities)


def generate(n: int, seed: int = 13, formal_share: float = 0.25) -> list[Sentence]:
    """`n` sentences with a fixed seed: chat requests and a `formal_share` of report prose."""
    rng = random.Random(seed)
    return [
        formal_sentence(rng) if rng.random() < formal_share else chat_sentence(rng)
        for _ in range(n)
    ]
