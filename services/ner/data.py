"""Training data generated from templates and lexicons, the hand-written evaluation set, and FIRE.

The generator mixes lexicon entries with invented names ("Sharma Stores", "Cafe Tulsi") and
varies case and amount/date formats, so the trained `ner` learns context, not a word list.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.kit.settings import REPO_ROOT

EVAL_SET = Path(__file__).with_name("eval_set.txt")
FIRE_DEV = REPO_ROOT.parent / "shared" / "data" / "fire" / "fire_dev.json"
FIRE_LABELS = {"Money": "MONEY", "Date": "DATE"}
LABELS = ("MONEY", "DATE", "CATEGORY", "MERCHANT", "ACCOUNT")


@dataclass(frozen=True)
class Sentence:
    """A text and its entities as (start, end, label) character spans."""

    text: str
    entities: tuple[tuple[int, int, str], ...]


MERCHANTS = [
    "Swiggy", "Zomato", "Amazon", "Flipkart", "BigBasket", "Uber", "Ola", "Netflix", "IRCTC",
    "DMart", "Myntra", "Nykaa", "Reliance Digital", "Croma", "Starbucks", "Domino's",
    "McDonald's", "KFC", "Spotify", "Hotstar", "Airtel", "Jio", "Vodafone Idea", "Tata Power",
    "BESCOM", "Indian Oil", "HP Petrol Pump", "Bharat Petroleum", "MakeMyTrip", "Goibibo",
    "IndiGo", "Air India", "OYO", "BookMyShow", "PVR", "INOX", "Apollo Pharmacy", "PharmEasy",
    "Lenskart", "Decathlon", "IKEA", "More Supermarket", "Spencer's", "Nature's Basket",
    "Haldiram's", "Chaayos", "Cult.fit", "Urban Company", "Rapido", "Dunzo", "JioMart",
    "Ajio", "Tanishq", "Pantaloons", "Westside", "Shoppers Stop", "Big Bazaar", "Meesho",
    "Practo", "1mg", "Byju's", "Unacademy", "Coursera", "Apple", "Google Play", "YouTube Premium",
    "Amazon Prime", "Zepto", "Blinkit", "Instamart", "Burger King", "Pizza Hut", "Subway",
]
NAME_PARTS = ["Sharma", "Gupta", "Patel", "Krishna", "Lakshmi", "Balaji", "Ganesh", "Sai",
              "Anand", "Shree", "Royal", "Green", "Golden", "City", "Metro", "Sunrise", "Tulsi",
              "Annapurna", "Ruchi", "Mehta", "Iyer", "Kumar", "Bombay", "Delhi", "Madras"]
NAME_SHAPES = ["{} Stores", "{} General Store", "{} Mart", "{} Medicals", "Cafe {}", "Hotel {}",
               "{} Sweets", "{} Bakery", "{} Kirana", "{} Electronics", "{} Fuels", "{} Travels",
               "{}Kart", "{} Pharmacy", "{} Restaurant", "{} Textiles", "{} Supermarket"]
CATEGORIES = [
    "groceries", "grocery", "rent", "dining", "dining out", "eating out", "food delivery", "fuel",
    "petrol", "travel", "shopping", "utilities", "electricity", "electricity bill", "water bill",
    "gas bill", "internet", "broadband", "mobile recharge", "phone bill", "entertainment",
    "movies", "subscriptions", "healthcare", "medical", "medicines", "education", "school fees",
    "tuition", "EMI", "EMIs", "loan EMI", "insurance", "health insurance", "car insurance",
    "investments", "mutual funds", "SIP", "clothing", "clothes", "personal care", "gym",
    "fitness", "household", "home maintenance", "maid salary", "transport", "commute", "cabs",
    "taxi", "flights", "hotels", "gifts", "donations", "charity", "pet care", "childcare",
    "taxes", "income tax", "credit card bill", "restaurants", "snacks", "coffee", "alcohol",
    "electronics", "gadgets", "furniture", "books", "stationery", "beauty", "salon",
]
BANKS = ["HDFC", "SBI", "ICICI", "Axis", "Kotak", "IDFC First", "Yes Bank", "IndusInd", "PNB",
         "Bank of Baroda", "Canara Bank", "AU Bank", "RBL", "Federal Bank", "HSBC", "Citi",
         "Standard Chartered", "Union Bank", "IDBI", "Bandhan Bank"]
CARD_TYPES = ["credit card", "debit card", "Regalia card", "Millennia card", "Amazon Pay card",
              "Visa card", "Mastercard", "RuPay card", "forex card", "card"]
ACCOUNT_TYPES = ["savings account", "salary account", "current account", "account", "FD",
                 "fixed deposit", "RD", "joint account", "NRE account"]
WALLETS = ["Paytm wallet", "PhonePe wallet", "Amazon Pay wallet", "Mobikwik wallet",
           "Google Pay", "Paytm", "PhonePe", "Amazon Pay balance", "Freecharge wallet"]
POTS = ["PPF account", "PPF", "NPS account", "NPS", "EPF", "PF account",
        "Sukanya Samriddhi account", "emergency fund", "demat account", "Zerodha account",
        "Groww account", "gold savings",
        "vacation fund", "post office savings account"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _merchant(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(NAME_SHAPES).format(rng.choice(NAME_PARTS))
    return rng.choice(MERCHANTS)


def _account(rng: random.Random) -> str:
    bank = rng.choice(BANKS)
    digits = f"{rng.randrange(10000):04d}"
    shapes = [
        lambda: f"{bank} {rng.choice(CARD_TYPES)}", lambda: f"{bank} {rng.choice(ACCOUNT_TYPES)}",
        lambda: f"{rng.choice(['account', 'card', 'a/c', 'credit card'])} ending {digits}",
        lambda: f"{rng.choice(['card', 'account', 'a/c'])} ending with {digits}",
        lambda: f"{bank} card ending {digits}", lambda: f"{bank} account XX{digits}",
        lambda: rng.choice(WALLETS), lambda: rng.choice(POTS),
    ]
    return rng.choice(shapes)()


def _number(rng: random.Random) -> str:
    value = rng.choice(
        [rng.randrange(10, 1000), rng.randrange(100, 100000), rng.randrange(1, 50) * 100]
    )
    if value >= 1000 and rng.random() < 0.6:
        return _indian_grouping(value) if rng.random() < 0.5 else f"{value:,}"
    return str(value)


def _indian_grouping(value: int) -> str:
    text = str(value)
    head, tail = text[:-3], text[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([g for g in [head, *groups] if g] + [tail])


def _money(rng: random.Random) -> str:
    n = _number(rng)
    small = f"{rng.randrange(1, 99)}{rng.choice(['', '.5', '.25'])}"
    shapes = [
        f"₹{n}", f"₹ {n}", f"Rs. {n}", f"Rs.{n}", f"Rs {n}", f"INR {n}", f"{n} rupees", f"{n} rs",
        f"Rs. {n}/-", f"₹{small}k", f"{small}k", f"{small} lakh", f"{small} lakhs",
        f"₹{small} lakh", f"INR {small} lakh", f"{small} crore", f"{small} crore rupees",
        f"Rs {small} cr", f"${n}", f"$ {n}", f"USD {n}", f"€{n}", f"{n} euros", f"£{n}",
        f"{n} dollars", n, n, n, f"₹{n}.{rng.randrange(100):02d}",
    ]
    return rng.choice(shapes)


def _date(rng: random.Random) -> str:
    day, month = rng.randrange(1, 29), rng.choice(MONTH_NAMES)
    year, m = rng.randrange(2018, 2027), rng.randrange(1, 13)
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
    rel = rng.choice(["last", "this", "next", "previous", "coming"])
    shapes = [
        f"{day} {month}", f"{day} {month} {year}", f"{month} {day}", f"{month} {day}, {year}",
        f"{day}{suffix} {month}", f"{day}{suffix} of {month}", f"{day}{suffix}", "last night",
        f"{month[:3]} {day}",
        f"{year}-{m:02d}-{day:02d}", f"{day:02d}/{m:02d}/{year}", f"{day}/{m}/{str(year)[2:]}",
        f"{day:02d}-{m:02d}-{year}", "yesterday", "today", "tomorrow", "day before yesterday",
        f"{rel} {rng.choice(['week', 'month', 'year', 'quarter', 'weekend', 'fortnight'])}",
        f"{rel} {rng.choice(WEEKDAY_NAMES)}", rng.choice(WEEKDAY_NAMES), month, f"{month} {year}",
        f"last {rng.randrange(2, 13)} months", f"past {rng.randrange(2, 91)} days",
        f"{rng.randrange(2, 6)} days ago", f"{rng.choice(['a', 'two', 'three'])} weeks ago",
        f"Q{rng.randrange(1, 5)} {year}", f"FY{str(year)[2:]}", f"FY {year}-{str(year + 1)[2:]}",
        f"{rel} financial year", str(year), f"{rel} {month}",
        f"last {rng.choice(['one', 'two', 'six'])} months",
    ]
    return rng.choice(shapes)


SLOTS: dict[str, tuple[str, Callable[[random.Random], str]]] = {
    "m": ("MONEY", _money), "d": ("DATE", _date), "c": ("CATEGORY", lambda r: r.choice(CATEGORIES)),
    "s": ("MERCHANT", _merchant), "a": ("ACCOUNT", _account),
}

TEMPLATES = [
    "Spent {m} on {c} {d}", "Paid {m} to {s} using my {a}", "How much did I spend on {c} {d}?",
    "{s} charged {m} to my {a} on {d}", "Show my {c} expenses for {d}",
    "I paid {m} for {c} at {s}", "Transfer {m} from {a} to {a}", "What's my balance in {a}?",
    "Set a {c} budget of {m} for {d}", "Did I order from {s} {d}?", "{m} debited from {a} for {s}",
    "Your {a} was debited by {m} on {d} at {s}", "How much went to {s} {d}", "{c}: {m}",
    "Received {m} in my {a} {d}", "Move {m} to my {a} every month", "compare {c} spend {d} vs {d}",
    "why is my {c} bill {m} {d}", "I spent {m} at {s} {d} on {c}", "{s} order for {m}",
    "Cancel my {s} subscription", "Total spent on {c} and {c} {d}", "invest {m} in {a} {d}",
    "Pay {m} credit card bill from {a} before {d}", "Did {s} refund {m} to my {a}?",
    "Remind me to pay {c} of {m} on {d}", "list all {s} transactions {d}",
    "My {c} spending went up to {m} {d}", "Is {m} too much for {c}?",
    "Booked tickets on {s} for {m}",
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
]


FILLER_WORDS = [
    'the', 'a', 'an', 'and', 'or', 'but', 'so', 'because', 'if', 'when', 'then', 'also', 'just',
    'really', 'very', 'quite', 'still', 'again', 'maybe', 'I', 'we', 'you', 'they', 'he', 'she',
    'it', 'my', 'our', 'your', 'their', 'this', 'that', 'these', 'those', 'there', 'here', 'what',
    'which', 'who', 'is', 'was', 'are', 'were', 'be', 'been', 'have', 'has', 'had', 'do', 'did',
    'does', 'can', 'could', 'will', 'would', 'should', 'may', 'might', 'think', 'know', 'want',
    'need', 'like', 'feel', 'see', 'look', 'seem', 'said', 'told', 'asked', 'wonder', 'guess',
    'hope', 'plan', 'try', 'money', 'bill', 'cost', 'price', 'fee', 'charge', 'payment', 'balance',
    'budget', 'spend', 'saving', 'plan', 'report', 'total', 'friend', 'family', 'mom', 'dad',
    'brother', 'sister', 'office', 'home', 'school', 'trip', 'weekend', 'party', 'meeting', 'good',
    'bad', 'high', 'low', 'more', 'less', 'much', 'many', 'few', 'lot', 'little', 'new', 'old',
    'big', 'small', 'same', 'other', 'usual', '(the', ')', '-', ';', ':', "'", '"', 'company',
    'market', 'business', 'revenue', 'share', 'stock', 'interest', 'rate', 'note', 'board',
    'increase', 'decrease', 'approximately', 'about', 'around', 'nearly', 'per', 'cent', 'percent',
    '%', 'million', 'units',
]
PREFIXES = ["", "", "", "Hey, ", "Hi! ", "Quick question: ", "Please ", "So ", "FYI ", "Okay, ",
            "hmm ", "Also, ", "By the way, "]
ENDINGS = ["", "", ".", ".", "?", "!", " please", " thanks", "..", " :)"]


def _filler(rng: random.Random) -> str:
    return " ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randrange(3, 12)))


def _fill(template: str, rng: random.Random, lowercase: bool) -> Sentence:
    if rng.random() < 0.1:
        return Sentence(_filler(rng).capitalize() + rng.choice(ENDINGS), ())
    if rng.random() < 0.25:
        template = template + rng.choice([", ", " - ", " because ", " and "]) + _filler(rng)
    template = rng.choice(PREFIXES) + template.replace("{", "{{").replace("}", "}}")
    template = template.replace("{{", "{").replace("}}", "}") + rng.choice(ENDINGS)
    text, entities, pos = "", [], 0
    for match in re.finditer(r"\{(\w)\}", template):
        text += template[pos:match.start()]
        label, make = SLOTS[match[1]]
        value = make(rng)
        if lowercase and label != "MONEY":
            value = value.lower()
        entities.append((len(text), len(text) + len(value), label))
        text += value
        pos = match.end()
    text += template[pos:]
    return Sentence(text, tuple(entities))


def generate(n: int, seed: int = 13) -> list[Sentence]:
    """`n` template sentences with a fixed seed; a fifth are lower-cased as people type."""
    rng = random.Random(seed)
    return [_fill(rng.choice(TEMPLATES), rng, rng.random() < 0.2) for _ in range(n)]


MARKUP = re.compile(r"\[([^\]]+)\]\((MONEY|DATE|CATEGORY|MERCHANT|ACCOUNT)\)")


def parse_markup(line: str) -> Sentence:
    """'Paid [₹500](MONEY) at [DMart](MERCHANT)' → text and character spans."""
    text, entities, pos = "", [], 0
    for match in MARKUP.finditer(line):
        text += line[pos:match.start()]
        entities.append((len(text), len(text) + len(match[1]), match[2]))
        text += match[1]
        pos = match.end()
    return Sentence(text + line[pos:], tuple(entities))


def load_eval_set(path: Path = EVAL_SET) -> list[Sentence]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [parse_markup(line) for line in lines if line.strip() and not line.startswith("#")]


def load_fire(path: Path = FIRE_DEV) -> list[Sentence]:
    """FIRE dev sentences (tokens joined by spaces) with Money → MONEY and Date → DATE only."""
    sentences = []
    for row in json.loads(path.read_text(encoding="utf-8")):
        tokens = row["tokens"]
        starts, offset = [], 0
        for token in tokens:
            starts.append(offset)
            offset += len(token) + 1
        entities = tuple(
            (starts[e["start"]], starts[e["end"] - 1] + len(tokens[e["end"] - 1]),
             FIRE_LABELS[e["type"]])
            for e in row["entities"] if e["type"] in FIRE_LABELS
        )
        sentences.append(Sentence(" ".join(tokens), entities))
    return sentences
