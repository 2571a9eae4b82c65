"""Report-style training sentences (annual reports, results releases, business news).

Without them the `ner` only ever saw chat, and in formal prose it tagged numbers, percentages and
capitalised headings as MONEY or DATE. Here MONEY and DATE appear in the shapes of financial
writing ("approximately $1.2 billion", "the year ended December 31, 2019", "fiscal 2019",
"the third quarter of 2019", "Rs 4,500 crore") with the same span edges the entity ruler uses
(modifiers such as "approximately" and the article "the" stay outside), next to numbers that are
not entities: percentages, share and employee counts, areas, note/item/form numbers, and years
used as names ("the 2019 Plan"). Written from general financial-writing conventions; no
sentence of any evaluation set is used.
"""

from __future__ import annotations

import random

from services.ner import lexicons as lex
from services.ner.data import Sentence, Slot, fill_template

ORDINALS = ["first", "second", "third", "fourth"]
MODIFIERS = ["", "", "", "approximately ", "about ", "nearly ", "more than ", "less than ",
             "up to ", "over ", "an additional ", "a total of ", "roughly "]
YEAR_NAMES = ["Plan", "Notes", "Equity Incentive Plan", "Credit Agreement", "Senior Notes",
              "Convertible Notes", "Stock Plan", "Omnibus Incentive Plan", "Term Loan",
              "Restructuring Program", "Employee Stock Purchase Plan", "Debentures",
              "Share Repurchase Program", "Revolving Credit Facility", "Act", "Bonds"]
COMPANY_SUFFIXES = ["Inc.", "Ltd.", "Limited", "Corporation", "Holdings", "Industries", "Group",
                    "Technologies", "Energy", "Bancorp", "Pharmaceuticals", "LLC", "plc", "AG"]
COUNTED = ["units", "vehicles", "engines", "aircraft", "stores", "employees", "customers",
           "subscribers", "patents", "warrants", "options", "products", "tonnes", "barrels",
           "megawatts", "square feet", "acres", "branches", "ATMs", "passengers", "beds",
           "outlets", "holders of record", "franchisees", "restaurants", "hectares"]
TITLES = ["Chief Financial Officer", "Chief Executive Officer", "a director", "Chairman",
          "General Counsel", "Senior Vice President"]
METRICS = ["net revenues", "revenue", "net sales", "operating income", "net income",
           "gross profit", "adjusted EBITDA", "total assets", "free cash flow",
           "net interest income", "operating expenses", "capital expenditures", "net loss",
           "total debt", "cash"]


def _year(rng: random.Random) -> int:
    return rng.randrange(1998, 2026)


def _scaled(rng: random.Random) -> str:
    whole = rng.randrange(1, 1000)
    decimals = rng.choice(["", f".{rng.randrange(10)}", f".{rng.randrange(100):02d}"])
    return f"{whole}{decimals}"


def money(rng: random.Random) -> str:
    """Amounts as reports write them; every shape here is one the ruler tags whole."""
    scale = rng.choice(["million", "billion", "million", "thousand", "mn", "bn"])
    big = f"{rng.randrange(1, 999)},{rng.randrange(1000):03d}"
    gap = rng.choice(["", " "])
    shapes = [
        f"${gap}{_scaled(rng)} {scale}", f"${gap}{_scaled(rng)} {scale}", f"${gap}{big}",
        f"US${gap}{_scaled(rng)} {scale}", f"${gap}{rng.randrange(0, 10)}.{rng.randrange(100):02d}"
        " per share", f"Rs{gap}{big} crore", f"Rs. {_scaled(rng)} crore", f"₹{big} crore",
        f"INR {big} million", f"€{gap}{_scaled(rng)} {scale}", f"EUR {_scaled(rng)} {scale}",
        f"£{gap}{_scaled(rng)} {scale}", f"RMB {_scaled(rng)} {scale}",
        f"{_scaled(rng)} {scale} dollars", f"Rs {_scaled(rng)} lakh", f"${gap}{big},000",
    ]
    return rng.choice(shapes)


def date(rng: random.Random) -> list[tuple[str, str | None]]:
    """Report dates; a leading "the", "end of" or "first half of" stays outside the span."""
    year = _year(rng)
    month = rng.choice(lex.MONTH_NAMES)
    day = rng.choice([1, 15, 28] + ([30] if month != "February" else []))
    if month in ("January", "March", "May", "July", "August", "October", "December"):
        day = rng.choice([day, 31])
    full = rng.choice(
        [f"{month} {day}, {year}", f"{day} {month} {year}", f"{month} {day} , {year}"]
    )
    period = rng.choice(["year", "fiscal year", "quarter"])
    shapes: list[list[tuple[str, str | None]]] = [
        [(f"fiscal {year}", "DATE")], [(f"fiscal year {year}", "DATE")],
        [("the ", None), (f"{rng.choice(ORDINALS)} quarter of {year}", "DATE")],
        [(full, "DATE")],
        [("the ", None), (f"{period} ended {full}", "DATE")],
        [(str(year), "DATE")], [(str(year), "DATE")],
        [(f"Q{rng.randrange(1, 5)} {year}", "DATE")], [(f"FY{year}", "DATE")],
        [(f"FY {year}-{str(year + 1)[2:]}", "DATE")], [(f"{month} {year}", "DATE")],
        [(f"{rng.choice(['early', 'mid', 'late'])} {year}", "DATE")],
        [(rng.choice(["the first half of ", "the end of ", "the second half of "]), None),
         (str(year), "DATE")],
        [(rng.choice(["last year", "this year", "next year", "last quarter"]), "DATE")],
        [("the ", None), (rng.choice(["current quarter", "previous quarter"]), "DATE")],
    ]
    return rng.choice(shapes)


def _money_slot(rng: random.Random) -> list[tuple[str, str | None]]:
    return [(rng.choice(MODIFIERS), None), (money(rng), "MONEY")]


def _plain(make):
    return lambda rng: [(make(rng), None)]


def _company(rng: random.Random) -> str:
    return f"{rng.choice(lex.NAME_PARTS)} {rng.choice(COMPANY_SUFFIXES)}"


def _count(rng: random.Random) -> str:
    value = rng.randrange(100, 5_000_000)
    return f"{value:,}" if rng.random() < 0.8 else str(value)


SLOTS: dict[str, Slot] = {
    "M": _money_slot, "D": date,
    "pct": _plain(lambda r: f"{r.randrange(0, 60)}.{r.randrange(10)}"
                  + r.choice(["%", " %", " percent", "%"])),
    "count": _plain(_count), "small": _plain(lambda r: str(r.randrange(2, 400))),
    "num": _plain(_scaled), "company": _plain(_company),
    "metric": _plain(lambda r: r.choice(METRICS)),
    "yname": _plain(lambda r: f"{_year(r)} {r.choice(YEAR_NAMES)}"),
    "counted": _plain(lambda r: r.choice(COUNTED)), "title": _plain(lambda r: r.choice(TITLES)),
    "age": _plain(lambda r: str(r.randrange(30, 80))),
    "person": _plain(lambda r: f"{r.choice(lex.NAME_PARTS)}"),
    "exhibit": _plain(lambda r: f"{r.randrange(2, 32)}.{r.randrange(1, 60)}"),
    "place": _plain(lambda r: r.choice(lex.PLACES)),
    "ref": _plain(lambda r: r.choice([f"Note {r.randrange(1, 25)}", f"Item {r.randrange(1, 16)}",
                                      "Item 7A", "Form 10-K", "Form 8-K", "Rule 144",
                                      f"Section {r.randrange(1, 500)}", "ASC 606", "ASC 842",
                                      "Schedule III", "Level 3", "Tier 1"])),
}

TEMPLATES = [
    "{metric} increased {pct} to {M} in {D} from {M} in {D}.",
    "{company} reported {metric} of {M} for {D}, compared with {M} for {D}.",
    "As of {D}, we had {M} outstanding under the {yname}.",
    "The Company recorded an impairment charge of {M} during {D}.",
    "The Board declared a quarterly dividend of {M}, payable on {D} to shareholders of record.",
    "During {D}, we repurchased {count} shares of common stock for {M}.",
    "{metric} was {M}, or {M}, in {D}.",
    "We employed {count} people as of {D}.",
    "{company} agreed to acquire {company} for {M} in cash, the companies said on {D}.",
    "The {yname} provides for the issuance of up to {count} shares.",
    "See {ref} for further information about the {yname}.",
    "{metric} declined {pct} year over year, mainly due to lower volumes.",
    "Our {metric} margin was {pct} in {D} compared to {pct} in {D}.",
    "The facility covers {count} square feet and is leased through {D}.",
    "{company} shares rose {pct} to close at {M} on {D}.",
    "The net proceeds of {M} were used to repay borrowings under the {yname}.",
    "Amortization expense was {M} for {D} and is expected to be {M} in {D}.",
    "We operated {small} stores in {small} countries at {D}.",
    "Information required by {ref} is included in {ref} of this report.",
    "The Bank's Tier 1 capital ratio was {pct} at {D}.",
    "Interest rates rose by {small} basis points during {D}.",
    "{company} raised {M} in a rights issue in {D}.",
    "The Group's order book stood at {M} at the end of {D}.",
    "Unrecognized compensation cost of {M} is expected to be recognized over {num} years.",
    "{count} options were outstanding under the {yname} as of {D}.",
    "{company} holds a {pct} stake in {company}.",
    "In {D}, {metric} grew {pct}, while {metric} fell {pct}.",
    "The {yname} matures in {D} and bears interest at {pct}.",
    "Total consideration was {M}, including {M} of contingent consideration.",
    "Volumes reached {count} tonnes in {D}, up {pct}.",
    "The stock traded at {num} times earnings in {D}.",
    "We expect capital expenditures of {M} to {M} in {D}.",
    "{metric} for {D} includes a gain of {M} on the sale of {company}.",
    "The average price paid was {M} for the {count} shares purchased.",
    "{company} was founded in {D} and has {count} customers in {small} cities.",
    "Headcount fell by {count}, or {pct}, to {count} at {D}.",
    "{company} shipped {count} {counted} during {D}, up {pct}.",
    "The portfolio included {count} {counted} at {D}.",
    "We lease about {count} square feet in {place} under a lease expiring in {D}.",
    "Mr. {person}, age {age}, has served as {title} since {D}.",
    "{exhibit} Amendment No. {small} to the {yname}, dated as of {D} (File No. {small}-{count}).",
    "Sales reached {count} {counted}, against {count} {counted} a year earlier.",
    "There were {count} {counted} and {small} {counted} in {small} states as of {D}.",
    "The court upheld the {small} patent in {D}.",
]


def formal_sentence(rng: random.Random) -> Sentence:
    sentence = fill_template(rng.choice(TEMPLATES), SLOTS, rng)
    return Sentence(sentence.text[:1].upper() + sentence.text[1:], sentence.entities)
