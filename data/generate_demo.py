"""Make a synthetic store: a catalog whose categories have their own words, and shoppers with tastes.

    python data/generate_demo.py                       # the shipped demo store (data/*.csv)
    python data/generate_demo.py --products 100000 --users 200000 --interactions 5000000 --out /tmp/s

The same seed gives the same files. Structure a recommender should find:
- titles and descriptions use their category's vocabulary, so similar items share words;
- each user shops one to three categories, and within a category some products sell far more
  than others (Zipf-like);
- each product has a companion in a complementary category (mug -> coffee) that its buyers
  often buy too: "bought together" that text alone cannot see.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES: dict[str, dict[str, list[str]]] = {
    "Kitchen": {
        "nouns": [
            "Mug",
            "Teapot",
            "Skillet",
            "Saucepan",
            "Colander",
            "Cutting Board",
            "Chef Knife",
            "Whisk",
            "Mixing Bowl",
            "Spatula",
            "Kettle",
            "Dutch Oven",
        ],
        "styles": ["Rustic", "Classic", "Nordic", "Farmhouse", "Professional", "Compact"],
        "materials": ["Ceramic", "Cast Iron", "Stainless Steel", "Enamel", "Bamboo", "Stoneware"],
        "phrases": [
            "Dishwasher safe and oven ready.",
            "Heats evenly on gas and induction hobs.",
            "A kitchen essential for everyday cooking.",
            "Easy to clean after baking and roasting.",
        ],
    },
    "Coffee & Tea": {
        "nouns": [
            "Espresso Beans",
            "Ground Coffee",
            "Green Tea",
            "Earl Grey",
            "Chai Blend",
            "Cold Brew Pack",
            "Matcha Powder",
            "Herbal Infusion",
            "Decaf Roast",
            "Single Origin Beans",
        ],
        "styles": ["Dark Roast", "Medium Roast", "Organic", "Fair Trade", "Small Batch", "Loose Leaf"],
        "materials": ["Arabica", "Robusta", "Darjeeling", "Assam", "Sencha", "Rooibos"],
        "phrases": [
            "Roasted in small batches for a rich crema.",
            "Notes of chocolate, caramel and citrus.",
            "Brew in a cafetiere, pour over or espresso machine.",
            "Steep for three minutes.",
        ],
    },
    "Garden": {
        "nouns": [
            "Trowel",
            "Watering Can",
            "Planter",
            "Pruning Shears",
            "Hose Reel",
            "Seed Tray",
            "Rake",
            "Wheelbarrow",
            "Bird Feeder",
            "Compost Bin",
        ],
        "styles": ["Heavy Duty", "Weatherproof", "Ergonomic", "Vintage", "Foldable", "Self Watering"],
        "materials": ["Galvanised", "Terracotta", "Recycled Plastic", "Ash Wood", "Zinc", "Carbon Steel"],
        "phrases": [
            "Built for borders, beds and allotments.",
            "Rust resistant for year round outdoor use.",
            "Helps seedlings, shrubs and perennials thrive.",
            "Lightweight for weeding and planting.",
        ],
    },
    "Electronics": {
        "nouns": [
            "Headphones",
            "Bluetooth Speaker",
            "Power Bank",
            "USB-C Charger",
            "Smart Plug",
            "Webcam",
            "Keyboard",
            "Wireless Mouse",
            "Fitness Tracker",
            "Soundbar",
        ],
        "styles": ["Noise Cancelling", "Wireless", "Fast Charging", "Portable", "Smart", "Ultra Slim"],
        "materials": [
            "Aluminium",
            "Matte Black",
            "Graphite",
            "Polycarbonate",
            "Titanium Grey",
            "Carbon Fibre",
        ],
        "phrases": [
            "Bluetooth 5.3 pairing with phones and laptops.",
            "Long battery life and USB-C charging.",
            "Low latency audio for calls and streaming.",
            "Firmware updates through the companion app.",
        ],
    },
    "Phone Accessories": {
        "nouns": [
            "Phone Case",
            "Screen Protector",
            "Car Mount",
            "Charging Cable",
            "Wireless Charger Pad",
            "Pop Grip",
            "Camera Lens Kit",
            "Phone Stand",
            "Wallet Case",
            "Armband",
        ],
        "styles": ["Shockproof", "Magnetic", "Clear", "Rugged", "Minimalist", "Tempered"],
        "materials": ["Silicone", "Leather", "TPU", "Tempered Glass", "Nylon Braided", "Kevlar"],
        "phrases": [
            "Precise cut-outs for ports and cameras.",
            "Drop tested and scratch resistant.",
            "Compatible with MagSafe and Qi charging.",
            "Slim profile that fits any pocket.",
        ],
    },
    "Toys": {
        "nouns": [
            "Building Blocks",
            "Puzzle",
            "Plush Bear",
            "Train Set",
            "Doll House",
            "Kite",
            "Board Game",
            "Remote Control Car",
            "Science Kit",
            "Stacking Rings",
        ],
        "styles": ["Educational", "Montessori", "Colourful", "Classic", "Interactive", "Mini"],
        "materials": ["Wooden", "Plush", "Cardboard", "Die Cast", "Felt", "Beech Wood"],
        "phrases": [
            "Encourages creative play and problem solving.",
            "Safe for toddlers and children over three.",
            "Hours of family fun on rainy days.",
            "Develops fine motor skills and imagination.",
        ],
    },
    "Sports": {
        "nouns": [
            "Yoga Mat",
            "Dumbbell Set",
            "Resistance Bands",
            "Running Belt",
            "Water Bottle",
            "Foam Roller",
            "Jump Rope",
            "Kettlebell",
            "Gym Bag",
            "Tennis Racket",
        ],
        "styles": ["Non Slip", "Adjustable", "Lightweight", "Pro", "Insulated", "Compact"],
        "materials": ["Neoprene", "Natural Rubber", "Cork", "Steel", "Graphite", "Ripstop"],
        "phrases": [
            "Made for workouts, pilates and stretching.",
            "Grippy surface for home gym training.",
            "Builds strength, stamina and mobility.",
            "Sweat resistant and easy to wipe down.",
        ],
    },
    "Outdoor": {
        "nouns": [
            "Tent",
            "Sleeping Bag",
            "Camping Stove",
            "Head Torch",
            "Hiking Backpack",
            "Trekking Poles",
            "Camping Chair",
            "Cool Box",
            "Hammock",
            "Rain Jacket",
        ],
        "styles": ["Waterproof", "Ultralight", "Four Season", "Packable", "Windproof", "Expedition"],
        "materials": ["Ripstop Nylon", "Gore-Tex", "Down", "Aluminium Alloy", "Canvas", "Polyester"],
        "phrases": [
            "Ready for trails, campsites and mountain weather.",
            "Packs down small for backpacking.",
            "Tested in wind, rain and frost.",
            "Quick to pitch after a long hike.",
        ],
    },
    "Beauty": {
        "nouns": [
            "Face Serum",
            "Moisturiser",
            "Lip Balm",
            "Shampoo",
            "Conditioner",
            "Body Lotion",
            "Face Mask",
            "Hand Cream",
            "Eye Cream",
            "Cleanser",
        ],
        "styles": ["Hydrating", "Vegan", "Fragrance Free", "Brightening", "Gentle", "Overnight"],
        "materials": ["Hyaluronic", "Shea Butter", "Vitamin C", "Aloe Vera", "Argan Oil", "Retinol"],
        "phrases": [
            "Dermatologically tested for sensitive skin.",
            "Absorbs quickly without a greasy feel.",
            "Cruelty free and paraben free.",
            "Apply morning and evening to clean skin.",
        ],
    },
    "Pets": {
        "nouns": [
            "Dog Bed",
            "Cat Scratcher",
            "Leash",
            "Chew Toy",
            "Pet Bowl",
            "Grooming Brush",
            "Litter Tray",
            "Dog Harness",
            "Cat Tunnel",
            "Treat Pouch",
        ],
        "styles": ["Orthopaedic", "Reflective", "Washable", "Durable", "Calming", "Anti Slip"],
        "materials": ["Memory Foam", "Sisal", "Nylon", "Natural Rubber", "Fleece", "Bamboo Fibre"],
        "phrases": [
            "Loved by puppies, kittens and senior pets.",
            "Machine washable cover.",
            "Vet approved and non toxic.",
            "Keeps your dog or cat busy and happy.",
        ],
    },
    "Office": {
        "nouns": [
            "Notebook",
            "Fountain Pen",
            "Desk Organiser",
            "Stapler",
            "Planner",
            "Monitor Stand",
            "Filing Box",
            "Highlighter Set",
            "Desk Lamp",
            "Whiteboard",
        ],
        "styles": ["Dotted", "Refillable", "Executive", "Minimal", "Undated", "Ergonomic"],
        "materials": ["Recycled Paper", "Brass", "Walnut", "Kraft", "Felt", "Acrylic"],
        "phrases": [
            "Keeps your desk tidy and your work organised.",
            "Smooth writing on acid free paper.",
            "For home office, study and meetings.",
            "Plan your week, goals and projects.",
        ],
    },
    "Home Decor": {
        "nouns": [
            "Candle",
            "Cushion Cover",
            "Picture Frame",
            "Vase",
            "Throw Blanket",
            "Wall Clock",
            "Mirror",
            "Table Lamp",
            "Rug",
            "Photo Album",
        ],
        "styles": ["Scandi", "Boho", "Art Deco", "Coastal", "Mid Century", "Cottage"],
        "materials": ["Soy Wax", "Linen", "Rattan", "Velvet", "Marble", "Jute"],
        "phrases": [
            "Adds warmth to living rooms and bedrooms.",
            "A thoughtful housewarming gift.",
            "Pairs with neutral and natural interiors.",
            "Hand finished for a cosy feel.",
        ],
    },
}
# Buyers of the first often buy from the second too.
COMPLEMENTS = {
    "Kitchen": "Coffee & Tea",
    "Coffee & Tea": "Kitchen",
    "Garden": "Outdoor",
    "Outdoor": "Sports",
    "Sports": "Electronics",
    "Electronics": "Phone Accessories",
    "Phone Accessories": "Electronics",
    "Toys": "Home Decor",
    "Beauty": "Home Decor",
    "Pets": "Home Decor",
    "Office": "Electronics",
    "Home Decor": "Kitchen",
}
COLOURS = ["Red", "Blue", "Green", "Black", "White", "Grey", "Navy", "Sage", "Mustard", "Blush"]
ALL_PHRASES = [p for vocab in CATEGORIES.values() for p in vocab["phrases"]]
PRICE_BASE = {"Electronics": 45.0, "Outdoor": 40.0, "Sports": 25.0, "Kitchen": 22.0, "Toys": 18.0}


def generate(
    n_products: int,
    n_users: int,
    n_interactions: int,
    seed: int,
    skew: float = 1.05,
    phrases: int = 2,
) -> tuple[pd.DataFrame, Log]:
    """The products in the service's CSV columns, and the interactions as a Log.

    `skew` is the Zipf exponent of popularity inside a category (smaller: a flatter curve, more
    products with many buyers); `phrases` the number of stock sentences in each description.
    """
    rng = np.random.default_rng(seed)
    names = list(CATEGORIES)
    n_cat = len(names)
    # Products are numbered category by category: P001.. are Kitchen, and so on.
    category = np.sort(np.arange(n_products) % n_cat)
    products = _catalog(rng, category, names, phrases)
    cat_start = np.searchsorted(category, np.arange(n_cat + 1))

    # Zipf-like popularity inside each category, as cumulative weights offset by the category number
    # so that one searchsorted draws an item from a given category.
    rank = np.empty(n_products)
    for c in range(n_cat):
        size = cat_start[c + 1] - cat_start[c]
        rank[cat_start[c] : cat_start[c + 1]] = rng.permutation(size) + 1
    weight = 1.0 / rank**skew
    cum = np.empty(n_products)
    for c in range(n_cat):
        part = np.cumsum(weight[cat_start[c] : cat_start[c + 1]])
        cum[cat_start[c] : cat_start[c + 1]] = c + part / part[-1]

    def draw(cats: np.ndarray) -> np.ndarray:
        found = np.searchsorted(cum, cats + rng.random(len(cats)), side="right")
        return np.minimum(found, cat_start[cats + 1] - 1)

    # Each product's companion: a popular-ish product of the complementary category.
    complement = np.array([names.index(COMPLEMENTS[n]) for n in names])
    companion = draw(complement[category])

    # Users: one to three favourite categories each.
    tastes = rng.integers(0, n_cat, size=(n_users, 3))
    taste_p = rng.dirichlet(np.ones(3) * 0.7, size=n_users)
    taste_p[rng.random(n_users) < 0.4, 1:] = 0.0
    taste_cum = np.cumsum(taste_p / taste_p.sum(axis=1, keepdims=True), axis=1)

    # Sessions: every user has at least one; heavier users have more.
    # Rows per session, on average: 1 + 1/0.32 views, and per view 0.28 carts, 0.28*0.55 purchases
    # and 0.28*0.55*0.45 companion purchases.
    per_session = (1 + 1 / 0.32) * (1 + 0.28 + 0.28 * 0.55 + 0.28 * 0.55 * 0.45)
    n_sessions = max(n_users, int(n_interactions / per_session))
    activity = 1.0 / (rng.permutation(n_users) + 1.0) ** 0.6
    extra = rng.choice(n_users, size=n_sessions - n_users, p=activity / activity.sum())
    s_user = np.concatenate([np.arange(n_users), extra])
    pick = (rng.random(n_sessions)[:, None] > taste_cum[s_user]).sum(axis=1).clip(0, 2)
    s_cat = tastes[s_user, pick]
    start = np.datetime64("2025-01-06T08:00:00")
    span = 182 * 24 * 3600
    s_time = start + rng.integers(0, span, size=n_sessions).astype("timedelta64[s]")

    views_per = 1 + rng.geometric(0.32, size=n_sessions)
    v_session = np.repeat(np.arange(n_sessions), views_per)
    v_item = draw(s_cat[v_session])
    gaps = rng.integers(20, 240, size=len(v_session))  # seconds between two views of a session
    elapsed = np.cumsum(gaps)
    first = np.cumsum(views_per) - views_per
    elapsed -= np.repeat(elapsed[first] - gaps[first], views_per)
    v_time = s_time[v_session] + elapsed.astype("timedelta64[s]")
    carted = rng.random(len(v_item)) < 0.28
    bought = carted & (rng.random(len(v_item)) < 0.55)
    with_companion = bought & (rng.random(len(v_item)) < 0.45)

    view, cart, purchase = (KINDS.index(k) for k in ("view", "add_to_cart", "purchase"))
    frames = [
        (v_session, v_item, view, v_time),
        (v_session[carted], v_item[carted], cart, v_time[carted] + np.timedelta64(30, "s")),
        (v_session[bought], v_item[bought], purchase, v_time[bought] + np.timedelta64(90, "s")),
        (
            v_session[with_companion],
            companion[v_item[with_companion]],
            purchase,
            v_time[with_companion] + np.timedelta64(120, "s"),
        ),
    ]
    kinds = np.concatenate([np.full(len(i), k, np.int8) for _, i, k, _ in frames])
    times = np.concatenate([t for _, _, _, t in frames])
    order = np.argsort(times, kind="stable")
    log = Log(
        users=np.concatenate([s_user[s] for s, _, _, _ in frames])[order],
        items=np.concatenate([i for _, i, _, _ in frames])[order],
        kinds=kinds[order],
        ts=times[order],
    )
    return products, log


@dataclass(frozen=True)
class Log:
    """The interactions as numbers, in time order (a store of 85M rows fits in memory this way)."""

    users: np.ndarray  # user number: U001 is 0
    items: np.ndarray  # product number: P001 is 0
    kinds: np.ndarray  # index into KINDS
    ts: np.ndarray  # datetime64[s]

    def write(self, path: Path, chunk: int = 2_000_000) -> None:
        """The service's interactions CSV, written `chunk` rows at a time."""
        with open(path, "w", newline="") as out:
            for start in range(0, len(self.ts), chunk):
                rows = slice(start, start + chunk)
                frame = pd.DataFrame(
                    {
                        "user_id": _ids("U", self.users[rows]),
                        "product_id": _ids("P", self.items[rows]),
                        "interaction_type": np.array(KINDS)[self.kinds[rows]],
                        "ts": pd.Series(self.ts[rows]).dt.strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                )
                frame.to_csv(out, index=False, header=start == 0)


KINDS = ("view", "add_to_cart", "purchase")


def _catalog(
    rng: np.random.Generator, category: np.ndarray, names: list[str], phrases: int = 2
) -> pd.DataFrame:
    n = len(category)
    titles, descriptions, prices = [], [], []
    for c in category:
        vocab = CATEGORIES[names[c]]
        noun = vocab["nouns"][rng.integers(len(vocab["nouns"]))]
        style = vocab["styles"][rng.integers(len(vocab["styles"]))]
        material = vocab["materials"][rng.integers(len(vocab["materials"]))]
        colour = COLOURS[rng.integers(len(COLOURS))]
        titles.append(f"{style} {material} {noun} - {colour}")
        # Two sentences of the product's category; any more come from the whole store's.
        said = list(rng.choice(vocab["phrases"], size=min(phrases, 2), replace=False))
        said += [ALL_PHRASES[j] for j in rng.integers(len(ALL_PHRASES), size=max(0, phrases - 2))]
        descriptions.append(
            f"{style} {noun.lower()} in {material.lower()}, {colour.lower()}. {' '.join(said)}"
        )
        prices.append(round(PRICE_BASE.get(names[c], 12.0) * float(rng.lognormal(0.0, 0.45)), 2))
    return pd.DataFrame(
        {
            "product_id": _ids("P", np.arange(n)),
            "title": titles,
            "category": [names[c] for c in category],
            "description": descriptions,
            "price": prices,
            "img_url": [f"https://img.example.com/p/{i + 1}.jpg" for i in range(n)],
        }
    )


def _ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """P001, P002, ... P1000: at least three digits, like the seed's examples."""
    return np.char.add(prefix, np.char.zfill((np.asarray(numbers) + 1).astype(str), 3))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--interactions", type=int, default=82684, help="about how many rows to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skew", type=float, default=1.05, help="popularity exponent in a category (lower: flatter)"
    )
    parser.add_argument("--phrases", type=int, default=2, help="sentences in each description")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    products, log = generate(args.products, args.users, args.interactions, args.seed, args.skew, args.phrases)
    args.out.mkdir(parents=True, exist_ok=True)
    products.to_csv(args.out / "products.csv", index=False)
    log.write(args.out / "interactions.csv")
    print(
        f"{args.out}: {len(products)} products, {len(log.ts)} interactions, "
        f"{len(np.unique(log.users))} users; {shape(log, len(products))}"
    )


def shape(log: Log, n_products: int) -> str:
    """How concentrated the store is: what the top 1% of products hold, the median product, users."""
    pairs = np.unique(log.users.astype(np.int64) * n_products + log.items)
    buyers = np.sort(np.bincount(pairs % n_products, minlength=n_products))[::-1]  # most first
    top = buyers[: max(1, n_products // 100)].sum() / buyers.sum()
    per_user = len(pairs) / len(np.unique(pairs // n_products))
    return (
        f"top 1% of products hold {top:.0%} of the buyers, the median product has "
        f"{np.median(buyers):.0f}, users hold {per_user:.1f} products on average"
    )


if __name__ == "__main__":
    main()
