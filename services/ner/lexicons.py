"""Word lists the generator draws from, and the festival names the entity ruler tags as DATE.

The hand-written evaluation set has merchants, people and places that are deliberately absent
here, so its score says whether the model learned context rather than these lists.
"""

from __future__ import annotations

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
# Invented businesses: "<part> <shape>" ("Sharma Stores", "Cafe Tulsi") and made-up brand words
# ("Zorvik", "Kartora Foods"), so capitalised unknown names in merchant positions are learned.
NAME_PARTS = ["Sharma", "Gupta", "Patel", "Krishna", "Lakshmi", "Balaji", "Ganesh", "Sai",
              "Anand", "Shree", "Royal", "Green", "Golden", "City", "Metro", "Sunrise", "Tulsi",
              "Annapurna", "Ruchi", "Mehta", "Iyer", "Kumar", "Bombay", "Madras", "Blue",
              "Silver", "Orchid", "Lotus", "Everest", "Saffron", "Coastal", "Urban", "Daily"]
NAME_SHAPES = ["{} Stores", "{} General Store", "{} Mart", "{} Medicals", "Cafe {}", "Hotel {}",
               "{} Sweets", "{} Bakery", "{} Kirana", "{} Electronics", "{} Fuels", "{} Travels",
               "{}Kart", "{} Pharmacy", "{} Restaurant", "{} Textiles", "{} Supermarket",
               "{} Coffee", "{} Foods", "{} Gas", "{} Power", "{} Broadband", "{} Telecom",
               "{} Motors", "{} Fashion", "{} Jewellers", "{} Cinemas", "{} Hospital",
               "{} Clinic", "{} Tours", "{} Kitchen", "{} Express", "{} Mall", "{} Opticals",
               "{} Hypermarket", "{} Sports", "{} Bazaar", "The {} Company"]
BRAND_SYLLABLES = ["zo", "ka", "ri", "vo", "la", "mi", "tra", "nex", "qu", "fy", "pa", "do",
                   "lu", "sha", "ven", "ko", "bi", "ra", "tu", "xo", "mo", "ne", "sta", "fli"]
CATEGORIES = [
    "groceries", "grocery", "rent", "dining", "dining out", "eating out", "food delivery", "fuel",
    "petrol", "travel", "shopping", "utilities", "electricity", "water bill", "gas bill",
    "internet", "broadband", "mobile recharge", "phone bill", "entertainment", "movies",
    "subscriptions", "healthcare", "medical", "medicines", "education", "school fees", "tuition",
    "EMI", "EMIs", "insurance", "health insurance", "car insurance", "investments",
    "mutual funds", "SIP", "clothing", "clothes", "personal care", "gym", "fitness", "household",
    "home maintenance", "maid salary", "transport", "commute", "cabs", "taxi", "flights",
    "hotels", "gifts", "donations", "charity", "pet care", "childcare", "taxes", "income tax",
    "credit card bill", "restaurants", "snacks", "coffee", "alcohol", "electronics", "gadgets",
    "furniture", "books", "stationery", "beauty", "salon",
]
# Span convention: the category is the spending word; a trailing "bill", "fees", "payments"...
# is left out ("[electricity] bill") unless the word alone is no category ("[water bill]").
CATEGORY_TRAILERS = ["bill", "bills", "expenses", "payments", "costs", "spend", "spending",
                     "fees", "charges", "budget", "premium", "renewal", "purchases", "visits"]
LOAN_KINDS = ["home loan", "car loan", "bike loan", "personal loan", "education loan"]
BANKS = ["HDFC", "SBI", "ICICI", "Axis", "Kotak", "IDFC First", "Yes Bank", "IndusInd", "PNB",
         "Bank of Baroda", "Canara Bank", "AU Bank", "RBL", "Federal Bank", "HSBC", "Citi",
         "Standard Chartered", "Union Bank", "IDBI", "Bandhan Bank"]
CARD_TYPES = ["credit card", "debit card", "Regalia card", "Millennia card", "Amazon Pay card",
              "Visa card", "Mastercard", "RuPay card", "forex card", "card", "platinum card",
              "Coral card", "SimplySave card", "Magnus card"]
ACCOUNT_TYPES = ["savings account", "salary account", "current account", "account", "FD",
                 "fixed deposit", "RD", "joint account", "NRE account", "recurring deposit"]
WALLETS = ["Paytm wallet", "PhonePe wallet", "Amazon Pay wallet", "Mobikwik wallet",
           "Google Pay", "Paytm", "PhonePe", "Amazon Pay balance", "Freecharge wallet"]
POTS = ["PPF account", "PPF", "NPS account", "NPS", "EPF", "PF account",
        "Sukanya Samriddhi account", "emergency fund", "demat account", "Zerodha account",
        "Groww account", "gold savings", "vacation fund", "post office savings account",
        "wedding fund", "car fund", "rainy day fund", "Upstox account"]
# Words that follow an account but are not part of it ("my HDFC credit card bill").
ACCOUNT_TRAILERS = ["bill", "statement", "balance", "limit", "annual fee", "PIN", "app",
                    "number", "details", "OTP"]
ITEMS = ["laptop", "phone", "shoes", "dinner", "lunch", "breakfast", "tickets", "order",
         "groceries", "headphones", "fish", "vegetables", "bucket meal", "hotel booking",
         "ride", "trip", "subscription", "sale", "delivery", "refill", "purchase", "bill",
         "watch", "sofa", "kurta", "saree", "jeans", "cake", "medicines", "recharge", "plan",
         "membership", "booking", "TV", "fridge", "mattress", "cylinder", "pizza", "burger"]
MERCHANT_VERBS = ["charged me", "billed me", "took", "debited", "refunded", "deducted",
                  "keeps charging me", "sent me a bill of", "auto-debited", "collected"]
PEOPLE = ["Priya", "Amit", "Neha", "Arjun", "Kavya", "Rohan", "Sneha", "Vikram", "Ananya",
          "Karan", "Meera", "Aditya", "Pooja", "Sanjay", "Divya", "Mom", "Dad", "my sister",
          "my landlord", "the plumber", "the driver", "my flatmate", "Tommy"]
PLACES = ["Mumbai", "Pune", "Chennai", "Hyderabad", "Kolkata", "Kochi", "Manali", "Shimla",
          "Udaipur", "Singapore", "Dubai", "Paris", "New York", "Bangkok", "Ooty", "Mysore",
          "Lucknow", "Rishikesh", "Amritsar", "Coorg"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Festivals are dates people plan spending around; the ruler tags them (no resolved value).
FESTIVALS = ["Diwali", "Deepavali", "Dhanteras", "Holi", "Christmas", "Eid", "Pongal", "Onam",
             "Navratri", "Dussehra", "Raksha Bandhan", "Rakhi", "Ganesh Chaturthi",
             "Durga Puja", "Lohri", "Baisakhi", "Makar Sankranti", "Janmashtami",
             "Karva Chauth", "Bhai Dooj", "Ugadi", "Gudi Padwa", "Vishu", "Easter"]
