"""NER service: spaCy entities (MONEY, DATE, CATEGORY, MERCHANT, ACCOUNT) with normalised values."""
