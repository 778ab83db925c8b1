"""Reference data the catalogue generator draws from: brands, categories and their models.

Model names and list prices (NZD, rounded RRP) are modelled on what NZ retailers carried in
2024-25; they only need to look real to a scraper, an LLM and a person reading the demo.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Brand:
    name: str
    gs1_prefix: str  # GS1 company prefix, 7 digits (a leading 0 marks a US/Canada UPC company)
    mpn_format: str  # {n}: item reference, {c}: two-letter variant code


@dataclass(frozen=True)
class Axis:
    """One way a model comes in (storage, colour, kit); the last axis of a category is what a
    Shopify store turns into variants of one product."""

    name: str
    values: tuple[str, ...]
    price_steps: tuple[int, ...] = ()  # NZD added to the model's price, per value
    leading: bool = False  # written before the model in a title ('Samsung 55" QLED Q60D')

    def step(self, index: int) -> int:
        return self.price_steps[index] if self.price_steps else 0


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    grams: tuple[int, int]
    axes: tuple[Axis, ...]
    models: dict[str, dict[str, int]]  # brand -> model -> list price (NZD)
    blurbs: tuple[str, ...]  # "{name} ..." sentences opening a description
    features: tuple[str, ...]


BRANDS = {
    b.name: b
    for b in (
        Brand("Samsung", "8806095", "SM-{n}{c}"),
        Brand("Apple", "0194253", "M{c}{n}X/A"),
        Brand("Google", "0840244", "GA0{n}-{c}"),
        Brand("OPPO", "6932169", "CPH{n}{c}"),
        Brand("Motorola", "0840023", "PB{c}{n}NZ"),
        Brand("Xiaomi", "6941812", "MZB{n}{c}"),
        Brand("Lenovo", "0196800", "83{c}{n}AU"),
        Brand("HP", "0196188", "9{c}{n}PA"),
        Brand("ASUS", "4711387", "90NB{n}-{c}"),
        Brand("Acer", "4711121", "NX.{c}{n}.00A"),
        Brand("Microsoft", "0889842", "ZX{n}-{c}"),
        Brand("LG", "8806091", "LG{n}{c}"),
        Brand("Sony", "4548736", "{c}-{n}"),
        Brand("Panasonic", "5025232", "TH-{n}{c}"),
        Brand("TCL", "6921732", "TC{n}{c}"),
        Brand("Hisense", "6942147", "HS{n}{c}"),
        Brand("Bose", "0017817", "88{n}-{c}"),
        Brand("JBL", "6925281", "JBL{n}{c}"),
        Brand("Sennheiser", "4044155", "50{n}{c}"),
        Brand("Marshall", "7340055", "10{n}{c}"),
        Brand("Breville", "9312432", "BES{n}{c}"),
        Brand("DeLonghi", "8004399", "EC{n}.{c}"),
        Brand("Sunbeam", "9314004", "EM{n}{c}"),
        Brand("Ninja", "0622356", "AF{n}{c}"),
        Brand("Philips", "8710103", "HD{n}/{c}"),
        Brand("Fisher & Paykel", "9421014", "FP{n}{c}"),
        Brand("Haier", "6901018", "H{c}{n}"),
        Brand("Bosch", "4059952", "0601{n}{c}"),
        Brand("Dyson", "5025155", "4{n}-{c}"),
        Brand("Makita", "0088381", "D{c}{n}Z"),
        Brand("DeWalt", "5035048", "DC{c}{n}N"),
        Brand("Milwaukee", "4058546", "49{n}{c}"),
        Brand("Ryobi", "4892210", "R18{c}{n}"),
        Brand("Fender", "0885978", "01{n}{c}"),
        Brand("Gibson", "0711106", "LP{c}{n}"),
        Brand("Yamaha", "4957812", "Y{c}{n}"),
        Brand("Roland", "4957054", "RL{n}{c}"),
        Brand("Boss", "4957124", "BS{n}{c}"),
        Brand("Korg", "4959112", "KG{n}{c}"),
        Brand("Nintendo", "0045496", "HAC-{n}{c}"),
        Brand("Canon", "4549292", "{n}C{c}"),
        Brand("Nikon", "0018208", "VOA{n}{c}"),
        Brand("Fujifilm", "4547410", "16{n}{c}"),
        Brand("Spigen", "8809896", "ACS{n}{c}"),
        Brand("Belkin", "0745883", "WIA{n}{c}"),
        Brand("Anker", "0194644", "A{n}{c}"),
    )
}

_PHONES = {
    "Samsung": {
        "Galaxy A16 5G": 349,
        "Galaxy A26 5G": 449,
        "Galaxy A36 5G": 649,
        "Galaxy A56 5G": 799,
        "Galaxy S25": 1549,
        "Galaxy S25+": 1849,
        "Galaxy S25 Ultra": 2299,
        "Galaxy Z Flip6": 1899,
        "Galaxy Z Fold6": 3199,
    },
    "Apple": {
        "iPhone 15": 1349,
        "iPhone 16e": 1149,
        "iPhone 16": 1599,
        "iPhone 16 Plus": 1799,
        "iPhone 16 Pro": 2099,
        "iPhone 16 Pro Max": 2399,
    },
    "Google": {"Pixel 9a": 899, "Pixel 9": 1399, "Pixel 9 Pro": 1799},
    "OPPO": {"A80 5G": 399, "Reno13 F 5G": 649, "Find X8 Pro": 1899},
    "Motorola": {"moto g35 5G": 299, "moto g85 5G": 499, "edge 50 fusion": 699},
    "Xiaomi": {"Redmi Note 14": 399, "Redmi Note 14 Pro": 599, "Xiaomi 15": 1499},
}

CATEGORIES: tuple[Category, ...] = (
    Category(
        slug="mobile-phones",
        name="Mobile Phones",
        grams=(160, 240),
        axes=(
            Axis("Storage", ("128GB", "256GB", "512GB"), (0, 150, 400)),
            Axis("Colour", ("Black", "Blue", "Silver", "Green", "Lavender")),
        ),
        models=_PHONES,
        blurbs=(
            "The {name} is a fast, dependable smartphone with a bright display and all-day battery life.",
            "Take sharper photos and stay connected for longer with the {name}.",
        ),
        features=(
            "6.7-inch 120Hz OLED display",
            "50MP main camera with optical image stabilisation",
            "5G and Wi-Fi 6E connectivity",
            "All-day battery with fast wired charging",
            "IP68 dust and water resistance",
            "Seven years of OS and security updates",
            "Dual SIM with eSIM support",
            "Fingerprint and face unlock",
        ),
    ),
    Category(
        slug="laptops",
        name="Laptops",
        grams=(1190, 2500),
        axes=(
            Axis("Configuration", ("8GB/256GB SSD", "16GB/512GB SSD", "32GB/1TB SSD"), (0, 300, 800)),
            Axis("Colour", ("Silver", "Space Grey")),
        ),
        models={
            "Apple": {'MacBook Air 13" M3': 1999, 'MacBook Air 15" M3': 2399, 'MacBook Pro 14" M4': 3299},
            "Lenovo": {
                'IdeaPad Slim 3 15"': 899,
                'IdeaPad Slim 5 14"': 1299,
                "ThinkPad E14 Gen 6": 1599,
                'Yoga 7 2-in-1 14"': 1799,
            },
            "HP": {'15-fd0 15.6" Laptop': 799, "Pavilion Plus 14": 1499, "EliteBook 840 G11": 2499},
            "ASUS": {"Vivobook 15": 749, "Zenbook 14 OLED": 1799, "ROG Strix G16": 2999},
            "Acer": {"Aspire 5": 899, "Swift Go 14": 1499, "Nitro V 15": 1699},
            "Microsoft": {'Surface Laptop 7 13.8"': 2199},
        },
        blurbs=(
            "The {name} balances performance and portability for work, study and play.",
            "Get more done on the go with the {name}, built for long days away from the desk.",
        ),
        features=(
            "Full HD+ anti-glare display",
            "Backlit keyboard and precision touchpad",
            "Up to 15 hours of battery life",
            "Wi-Fi 6E and Bluetooth 5.3",
            "USB-C charging with DisplayPort out",
            "1080p webcam with privacy shutter",
            "Windows 11 Home / macOS preinstalled",
        ),
    ),
    Category(
        slug="tablets",
        name="Tablets",
        grams=(300, 700),
        axes=(
            Axis("Storage", ("64GB", "128GB", "256GB"), (0, 120, 300)),
            Axis("Colour", ("Graphite", "Silver", "Blue", "Pink")),
        ),
        models={
            "Apple": {
                "iPad (10th generation)": 599,
                'iPad Air 11" M2': 1099,
                'iPad Pro 11" M4': 1899,
                "iPad mini A17 Pro": 899,
            },
            "Samsung": {"Galaxy Tab A9+": 399, "Galaxy Tab S9 FE": 699, "Galaxy Tab S10+": 1799},
            "Lenovo": {"Tab M11": 349, "Tab P12": 599},
            "Xiaomi": {"Redmi Pad Pro": 449},
        },
        blurbs=(
            "The {name} is a light, capable tablet for streaming, note-taking and gaming.",
            "Stream, sketch and browse on the big, sharp screen of the {name}.",
        ),
        features=(
            "11-inch Liquid Retina / LCD display",
            "Stylus and keyboard support",
            "Quad speakers with Dolby Atmos",
            "USB-C with fast charging",
            "Wi-Fi 6 connectivity",
            "12MP front camera with centre framing",
        ),
    ),
    Category(
        slug="tvs",
        name="TVs",
        grams=(7000, 32000),
        axes=(
            Axis("Screen Size", ('43"', '50"', '55"', '65"', '75"'), (0, 200, 400, 900, 1700), leading=True),
        ),
        models={
            "Samsung": {
                "Crystal UHD DU7000 4K Smart TV": 799,
                "QLED Q60D 4K Smart TV": 1199,
                "Neo QLED QN90D 4K Smart TV": 2799,
            },
            "LG": {"UT80 4K UHD Smart TV": 849, "QNED86 4K Smart TV": 1599, "OLED evo C4 4K Smart TV": 2999},
            "Sony": {"BRAVIA 3 4K Google TV": 1199, "BRAVIA 7 Mini LED Google TV": 2499},
            "TCL": {"P755 4K Google TV": 649, "C855 Mini LED 4K Google TV": 1799},
            "Hisense": {"A6N 4K Smart TV": 599, "U7N Mini LED 4K Smart TV": 1499},
            "Panasonic": {"W70A 4K LED Google TV": 1099},
        },
        blurbs=(
            "The {name} brings crisp 4K HDR picture and built-in streaming apps to your lounge.",
            "Movies, sport and gaming look their best on the {name}.",
        ),
        features=(
            "4K Ultra HD resolution with HDR10 and HLG",
            "Dolby Vision and Dolby Atmos",
            "Freeview Play and built-in streaming apps",
            "Google Assistant / Alexa voice control",
            "Up to 144Hz refresh for gaming",
            "3 x HDMI 2.1 inputs",
            "Slim bezel-less design",
        ),
    ),
    Category(
        slug="headphones-audio",
        name="Headphones & Audio",
        grams=(50, 600),
        axes=(Axis("Colour", ("Black", "White", "Blue", "Sand")),),
        models={
            "Sony": {
                "WH-1000XM5 Wireless Headphones": 649,
                "WF-1000XM5 Earbuds": 499,
                "ULT FIELD 1 Speaker": 179,
            },
            "Bose": {
                "QuietComfort Ultra Headphones": 699,
                "QuietComfort Earbuds II": 449,
                "SoundLink Flex Speaker": 249,
            },
            "JBL": {"Flip 6 Speaker": 199, "Charge 5 Speaker": 279, "Tune 770NC Headphones": 179},
            "Sennheiser": {"MOMENTUM 4 Wireless": 599, "ACCENTUM Plus Wireless": 349},
            "Apple": {"AirPods 4": 249, "AirPods Pro 2": 429, "AirPods Max": 999},
            "Marshall": {"Emberton III Speaker": 299, "Major V Headphones": 249},
        },
        blurbs=(
            "The {name} delivers rich, detailed sound wherever you listen.",
            "Block out the noise and enjoy your music with the {name}.",
        ),
        features=(
            "Active noise cancellation",
            "Up to 30 hours of battery life",
            "Bluetooth 5.3 multipoint",
            "IP67 dust and water resistance",
            "Quick charge: 10 minutes for 5 hours",
            "Companion app with custom EQ",
        ),
    ),
    Category(
        slug="small-kitchen-appliances",
        name="Kitchen Appliances",
        grams=(2000, 14000),
        axes=(Axis("Colour", ("Stainless Steel", "Black", "White", "Sage")),),
        models={
            "Breville": {
                "the Barista Express": 1099,
                "the Bambino Plus": 699,
                "the Smart Oven Air Fryer Pro": 599,
            },
            "DeLonghi": {"Dedica EC685": 399, "Magnifica Evo ECAM290": 1199, "Eletta Explore": 2199},
            "Sunbeam": {"Cafe Series Duo EM7100": 649, "Mixmaster Planetary Stand Mixer": 499},
            "Ninja": {
                "Foodi Dual Zone Air Fryer AF300": 349,
                "CREAMi Ice Cream Maker NC300": 379,
                "Foodi Power Nutri Blender": 249,
            },
            "Philips": {"Airfryer 3000 Series": 179, "Airfryer XXL 7000 Series": 449},
            "Panasonic": {"Inverter Microwave NN-ST65": 329},
        },
        blurbs=(
            "The {name} makes everyday cooking faster, easier and more consistent.",
            "Café-quality results at home with the {name}.",
        ),
        features=(
            "Digital display with one-touch presets",
            "Dishwasher-safe removable parts",
            "Precise temperature control",
            "Compact footprint for small benches",
            "Auto shut-off for safety",
            "Two-year manufacturer warranty",
        ),
    ),
    Category(
        slug="whiteware",
        name="Whiteware",
        grams=(38000, 120000),
        axes=(Axis("Finish", ("White", "Stainless Steel", "Black")),),
        models={
            "Fisher & Paykel": {
                "8kg Front Loader Washing Machine": 1299,
                "519L French Door Fridge": 4299,
                "9kg Heat Pump Dryer": 1899,
                "Series 7 Freestanding Dishwasher": 1599,
            },
            "Haier": {
                "7.5kg Front Loader Washing Machine": 799,
                "463L Quad Door Fridge": 2199,
                "8kg Top Loader Washing Machine": 749,
            },
            "LG": {
                "9kg Series 5 Front Loader": 1199,
                "635L Side by Side Fridge": 2399,
                "QuadWash Dishwasher": 1399,
            },
            "Samsung": {"8.5kg Front Loader Washing Machine": 999, "636L Side by Side Fridge": 2299},
            "Bosch": {"Series 6 Dishwasher": 1799, "Series 4 8kg Washing Machine": 999},
        },
        blurbs=(
            "The {name} is built to handle a busy household, efficiently and quietly.",
            "Save water and power without compromising on results with the {name}.",
        ),
        features=(
            "4.5 star energy rating",
            "Inverter direct-drive motor",
            "Wi-Fi connected with app control",
            "Quick 30-minute cycle",
            "Steam refresh and allergy care",
            "5-year manufacturer warranty",
        ),
    ),
    Category(
        slug="vacuums",
        name="Vacuums & Floorcare",
        grams=(1500, 7000),
        axes=(Axis("Colour", ("Nickel", "Purple", "Grey")),),
        models={
            "Dyson": {
                "V8 Absolute Cordless Vacuum": 699,
                "V15 Detect Absolute": 1299,
                "Gen5detect": 1549,
                "Ball Animal 3": 799,
            },
            "Samsung": {"Bespoke Jet AI": 1399, "Jet 75 Pet": 599},
            "Philips": {"3000 Series Cordless Vacuum": 299},
            "Xiaomi": {"Robot Vacuum S20+": 699, "Robot Vacuum X20 Max": 1499},
        },
        blurbs=(
            "The {name} picks up fine dust and pet hair from every floor type.",
            "Clean the whole house on a single charge with the {name}.",
        ),
        features=(
            "Up to 60 minutes of run time",
            "Whole-machine HEPA filtration",
            "Point-and-shoot bin emptying",
            "Converts to a handheld",
            "LCD screen shows remaining run time",
            "Motorised pet hair tool",
        ),
    ),
    Category(
        slug="power-tools",
        name="Power Tools",
        grams=(900, 5200),
        axes=(Axis("Kit", ("Skin Only", "2 x 2.0Ah Kit", "2 x 5.0Ah Kit"), (0, 199, 349)),),
        models={
            "Makita": {
                "18V LXT Brushless Hammer Driver Drill DHP486": 329,
                "18V LXT Brushless Impact Driver DTD173": 299,
                "18V LXT 165mm Circular Saw DHS680": 329,
                "18V LXT 125mm Angle Grinder DGA504": 279,
                "40V XGT Rotary Hammer HR005G": 649,
            },
            "DeWalt": {
                "18V XR Brushless Hammer Drill DCD805": 299,
                "18V XR Impact Driver DCF850": 279,
                "18V XR Reciprocating Saw DCS382": 349,
                "54V FlexVolt Mitre Saw DCS781": 1299,
            },
            "Milwaukee": {
                "M18 FUEL Hammer Drill M18FPD3": 449,
                "M18 FUEL Hex Impact Driver M18FID3": 399,
                "M12 FUEL Installation Driver M12FDDX": 349,
            },
            "Ryobi": {
                "ONE+ 18V Hammer Drill R18PD7": 179,
                "ONE+ 18V Impact Driver R18IDBL": 169,
                "ONE+ 18V Jigsaw R18JS7": 159,
            },
            "Bosch": {
                "Professional GSB 18V-55 Combi Drill": 299,
                "Professional GDX 18V-210 C Impact Driver": 379,
            },
        },
        blurbs=(
            "The {name} is a hard-working cordless tool for trade and serious DIY.",
            "Brushless power and long runtime make the {name} a jobsite favourite.",
        ),
        features=(
            "Brushless motor for longer runtime",
            "LED work light",
            "Electronic clutch and kickback control",
            "Compatible with the full 18V battery platform",
            "Metal gearbox for durability",
            "Belt clip and carry case included with kits",
        ),
    ),
    Category(
        slug="guitars-basses",
        name="Guitars & Basses",
        grams=(2200, 4500),
        axes=(Axis("Finish", ("3-Colour Sunburst", "Black", "Olympic White", "Natural")),),
        models={
            "Fender": {
                "Player II Stratocaster": 1599,
                "Player II Telecaster": 1599,
                "Player Precision Bass": 1599,
                "American Professional II Stratocaster": 3799,
            },
            "Gibson": {"Les Paul Standard '50s": 4999, "SG Standard": 3199, "ES-335": 6499},
            "Yamaha": {"Pacifica 112V": 499, "FG800 Acoustic Guitar": 399, "TRBX304 Bass": 899},
        },
        blurbs=(
            "The {name} offers classic tone and a comfortable, fast-playing neck.",
            "From bedroom practice to the stage, the {name} is ready to play.",
        ),
        features=(
            "Alder / mahogany body",
            "Maple neck with modern C profile",
            "22 medium-jumbo frets",
            "Alnico V single-coil / humbucking pickups",
            "Vintage-style tremolo / fixed bridge",
            "Gig bag included",
        ),
    ),
    Category(
        slug="music-gear",
        name="Keys, Amps & Effects",
        grams=(350, 16000),
        axes=(),
        models={
            "Roland": {
                "FP-30X Digital Piano": 1299,
                "JUNO-DS61 Synthesizer": 1499,
                "TD-07KV V-Drums Kit": 1699,
            },
            "Boss": {
                "Katana-50 MkII Guitar Amp": 499,
                "DS-1 Distortion Pedal": 109,
                "RC-30 Loop Station": 399,
            },
            "Yamaha": {"P-145 Digital Piano": 899, "PSR-E383 Portable Keyboard": 349},
            "Korg": {"minilogue xd Synthesizer": 1099, "volca keys Synthesizer": 299},
            "Marshall": {"DSL20CR Valve Combo Amp": 999, "MG15GFX Guitar Amp": 269},
            "Fender": {"Blues Junior IV Amp": 1299, "Mustang LT25 Amp": 329},
        },
        blurbs=(
            "The {name} is a stage- and studio-ready instrument with tone to spare.",
            "Practice, record and perform with the {name}.",
        ),
        features=(
            "Built-in effects and presets",
            "Headphone output for silent practice",
            "USB audio/MIDI interface",
            "Bluetooth audio streaming",
            "Road-ready build quality",
            "Power supply included",
        ),
    ),
    Category(
        slug="gaming",
        name="Gaming Consoles",
        grams=(250, 4500),
        axes=(Axis("Colour", ("White", "Black")),),
        models={
            "Sony": {
                "PlayStation 5 Slim Console": 799,
                "PlayStation 5 Pro Console": 1299,
                "PlayStation Portal": 349,
                "DualSense Wireless Controller": 119,
            },
            "Microsoft": {
                "Xbox Series X 1TB Console": 899,
                "Xbox Series S 512GB Console": 549,
                "Xbox Wireless Controller": 99,
            },
            "Nintendo": {
                "Switch OLED Console": 599,
                "Switch Lite Console": 349,
                "Switch Pro Controller": 109,
            },
        },
        blurbs=(
            "The {name} brings fast loading and stunning visuals to your favourite games.",
            "Play at home or on the go with the {name}.",
        ),
        features=(
            "Ultra-high-speed SSD",
            "4K gaming at up to 120fps",
            "Haptic feedback and adaptive triggers",
            "Backwards compatible with thousands of games",
            "Wi-Fi 6 and Bluetooth",
            "HDMI cable included",
        ),
    ),
    Category(
        slug="cameras",
        name="Cameras",
        grams=(350, 900),
        axes=(Axis("Kit", ("Body Only", "with Kit Lens"), (0, 400)),),
        models={
            "Canon": {"EOS R50": 1199, "EOS R8": 2499, "EOS R6 Mark II": 3999},
            "Nikon": {"Z50II": 1699, "Z6III": 3999, "Z fc": 1399},
            "Sony": {"Alpha a6400": 1499, "Alpha 7 IV": 3999, "ZV-E10 II": 1499},
            "Fujifilm": {"X-T5": 2999, "X-S20": 2099, "X-M5": 1399},
        },
        blurbs=(
            "The {name} is a mirrorless camera that makes great photos and 4K video easy.",
            "Capture every moment in detail with the {name}.",
        ),
        features=(
            "24MP APS-C / full-frame sensor",
            "Real-time subject-detection autofocus",
            "4K 60p video recording",
            "In-body image stabilisation",
            "Vari-angle touchscreen",
            "Dual card slots / UHS-II SD",
        ),
    ),
    Category(
        slug="phone-accessories",
        name="Phone Accessories",
        grams=(30, 300),
        axes=(Axis("Colour", ("Clear", "Black", "Navy")),),
        models={
            "Spigen": {
                **{f"Ultra Hybrid Case for {m}": 39 for models in _PHONES.values() for m in models},
                **{f"Tough Armor Case for {m}": 49 for models in _PHONES.values() for m in models},
            },
            "Belkin": {
                **{f"ScreenForce UltraGlass for {m}": 59 for models in _PHONES.values() for m in models},
                "BoostCharge Pro 3-in-1 Wireless Charger": 229,
                "BoostCharge 20W USB-C Wall Charger": 35,
            },
            "Anker": {
                "737 Power Bank 24,000mAh": 199,
                "Nano 30W USB-C Charger": 45,
                "PowerLine III USB-C Cable 1.8m": 29,
                "MagGo 10,000mAh Magnetic Power Bank": 129,
            },
        },
        blurbs=(
            "The {name} keeps your phone protected and powered up.",
            "A smart everyday upgrade: the {name}.",
        ),
        features=(
            "Precise cut-outs for ports and buttons",
            "Military-grade drop protection",
            "Wireless-charging friendly",
            "Scratch-resistant finish",
            "USB-C Power Delivery fast charging",
            "Lifetime limited warranty",
        ),
    ),
)

CATEGORY_BY_SLUG = {c.slug: c for c in CATEGORIES}

# Condition label -> share of the new list price a seller asks.
CONDITION_PRICE_FACTOR = {
    "New": 1.0,
    "Refurbished": 0.78,
    "Used - Excellent": 0.62,
    "Used - Good": 0.5,
    "Used - Fair": 0.38,
}

SECOND_HAND_NOTES = (
    "Tested and working.",
    "Light scratches consistent with normal use.",
    "Comes with original charger and box.",
    "Some wear on the corners; fully functional.",
    "Battery health checked by our technicians.",
    "Cosmetic marks only, no functional faults.",
)

CASH_CONVERTERS_STORES = (
    "Cash Converters Papatoetoe",
    "Cash Converters Henderson",
    "Cash Converters Hamilton",
    "Cash Converters Tauranga",
    "Cash Converters Porirua",
    "Cash Converters Christchurch",
    "Cash Converters Dunedin",
    "Cash Converters New Lynn",
)
