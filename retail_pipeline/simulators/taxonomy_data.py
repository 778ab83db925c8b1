"""A product taxonomy the marketplace simulators share: several hundred categories on three or four
levels, each leaf with the attributes (aspects) a listing in it takes, some required, some with a closed
list of values.

Real marketplaces each keep their own tree; the simulators give this one their own ids and wire format
(eBay numeric category ids and item aspects, Trade Me category numbers, Reverb uuids, Amazon product
types, Kaufland category ids), and may rename or prune it, so choosing a category is a real search
with a real chance of a poor match. The catalogue's own products (`catalogue_data`) fall in a handful
of these leaves; the rest are there to be wrongly chosen.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Aspect:
    name: str
    required: bool = False
    values: tuple[str, ...] = ()  # a closed list when given; free text otherwise
    multi: bool = False  # several values allowed


@dataclass(frozen=True)
class Node:
    key: str  # stable: the slugs of the path, "electronics/audio/headphones"
    path: tuple[str, ...]  # names from the top level down
    aspects: tuple[Aspect, ...]  # inherited from the branch, then its own
    keywords: tuple[str, ...]  # words that point here besides the names on the path
    leaf: bool

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def parent_key(self) -> str | None:
        return self.key.rsplit("/", 1)[0] if "/" in self.key else None

    def number(self, digits: int = 6) -> int:
        """A stable number for this node, for systems whose category ids are numbers."""
        return int(hashlib.sha256(self.key.encode()).hexdigest(), 16) % 10**digits

    def required(self) -> tuple[Aspect, ...]:
        return tuple(a for a in self.aspects if a.required)


BRAND = Aspect("Brand", required=True)
MODEL = Aspect("Model", required=True)
MPN = Aspect("MPN")
COLOUR = Aspect(
    "Colour",
    values=(
        "Black",
        "White",
        "Silver",
        "Grey",
        "Blue",
        "Red",
        "Green",
        "Gold",
        "Pink",
        "Purple",
        "Multicolour",
    ),
)
STORAGE = Aspect(
    "Storage Capacity", required=True, values=("32 GB", "64 GB", "128 GB", "256 GB", "512 GB", "1 TB", "2 TB")
)
SCREEN = Aspect("Screen Size", required=True)
POWER = Aspect("Power Source", values=("Corded Electric", "Battery", "Cordless", "Petrol", "Manual"))
CONNECTIVITY = Aspect(
    "Connectivity", values=("Wired", "Wireless", "Bluetooth", "Wi-Fi", "USB-C", "3.5 mm Jack"), multi=True
)
MATERIAL = Aspect("Material")
SIZE = Aspect("Size")
DEXTERITY = Aspect("Dexterity", required=True, values=("Right-Handed", "Left-Handed"))

# name -> (own aspects, children); a child given as a bare string is a leaf with no aspects of its own.
# Keywords follow a leaf's name after "|": "Headphones|earphones,earbuds,headset".
TREE: dict = {
    "Electronics": (
        (BRAND, MODEL, MPN, COLOUR),
        {
            "Mobile Phones & Accessories": (
                (),
                {
                    "Mobile Phones": (
                        (
                            STORAGE,
                            Aspect("Operating System", True, ("Android", "iOS", "Other")),
                            Aspect("Network", values=("Unlocked", "Locked")),
                        ),
                        [
                            "Smartphones|phone,galaxy,iphone,pixel,android,smartphone,5g,redmi note,moto g,reno",
                            "Feature Phones",
                            "Rugged Phones",
                        ],
                    ),
                    "Phone Accessories": (
                        (),
                        [
                            "Cases & Covers|case,cover,armor",
                            "Screen Protectors|glass,protector,screenforce,ultraglass",
                            "Chargers & Cradles|charger,wall charger,wireless charger",
                            "Power Banks|power bank,battery pack,mah",
                            "Cables & Adapters|cable,usb-c cable,adapter",
                            "Phone Mounts & Holders",
                            "Selfie Sticks",
                            "SIM Cards",
                        ],
                    ),
                },
            ),
            "Computers & Tablets": (
                (),
                {
                    "Laptops": (
                        (
                            SCREEN,
                            Aspect("Processor", True),
                            Aspect("RAM Size", True, ("4 GB", "8 GB", "16 GB", "32 GB", "64 GB")),
                            STORAGE,
                            Aspect("Operating System", True, ("Windows 11", "macOS", "ChromeOS", "Linux")),
                        ),
                        [
                            "Laptops & Notebooks|laptop,notebook,ultrabook,macbook,thinkpad,ideapad,vivobook,zenbook,pavilion,aspire,swift,elitebook,surface laptop",
                            "Gaming Laptops|gaming laptop,rog",
                            "Chromebooks|chromebook",
                            "2-in-1 Laptops|2-in-1,convertible",
                        ],
                    ),
                    "Tablets & eReaders": (
                        (SCREEN, STORAGE),
                        [
                            "Tablets|tablet,ipad,galaxy tab,tab,pad",
                            "eReaders|kindle,ereader",
                            "Drawing Tablets",
                        ],
                    ),
                    "Desktop Computers": (
                        (Aspect("Processor", True),),
                        ["All-in-One PCs", "Tower PCs", "Mini PCs", "Gaming Desktops"],
                    ),
                    "Computer Components": (
                        (),
                        [
                            "Graphics Cards",
                            "CPUs",
                            "Motherboards",
                            "Memory (RAM)",
                            "Internal Hard Drives",
                            "Internal SSDs",
                            "Power Supplies",
                            "Computer Cases",
                            "CPU Coolers",
                        ],
                    ),
                    "Computer Accessories": (
                        (),
                        [
                            "Keyboards",
                            "Mice",
                            "Monitors",
                            "Webcams",
                            "Laptop Bags",
                            "Docking Stations",
                            "USB Hubs",
                            "External Hard Drives",
                            "USB Flash Drives",
                        ],
                    ),
                    "Networking": (
                        (),
                        ["Routers", "Mesh Wi-Fi Systems", "Network Switches", "Modems", "Wi-Fi Extenders"],
                    ),
                    "Printers & Scanners": (
                        (),
                        ["Inkjet Printers", "Laser Printers", "Scanners", "Ink & Toner", "3D Printers"],
                    ),
                },
            ),
            "TV & Home Theatre": (
                (),
                {
                    "Televisions": (
                        (
                            SCREEN,
                            Aspect("Display Technology", True, ("LED", "QLED", "OLED", "Mini LED", "LCD")),
                            Aspect("Resolution", True, ("HD", "Full HD", "4K UHD", "8K")),
                            Aspect("Smart TV", values=("Yes", "No")),
                        ),
                        ["TVs|tv,television,qled,oled,smart tv", "Outdoor TVs", "Portable TVs"],
                    ),
                    "Home Theatre": (
                        (),
                        [
                            "Soundbars|soundbar",
                            "Home Theatre Systems",
                            "AV Receivers",
                            "Projectors",
                            "Projector Screens",
                            "Streaming Media Players",
                            "Blu-ray Players",
                        ],
                    ),
                    "TV Accessories": (
                        (),
                        ["TV Wall Mounts", "Remote Controls", "TV Antennas", "HDMI Cables"],
                    ),
                },
            ),
            "Audio": (
                (CONNECTIVITY,),
                {
                    "Headphones": (
                        (
                            Aspect("Form Factor", True, ("Over-Ear", "On-Ear", "In-Ear", "Earbuds")),
                            Aspect("Connectivity", True, ("Wired", "Wireless", "Bluetooth"), multi=True),
                            Aspect("Noise Cancellation", values=("Active", "Passive", "None")),
                        ),
                        [
                            "Headphones|headphones,over-ear,noise cancelling,momentum,accentum",
                            "Earbuds|earbuds,buds,airpods,true wireless",
                            "Gaming Headsets|headset",
                            "Sports Headphones",
                        ],
                    ),
                    "Speakers": (
                        (),
                        [
                            "Portable Speakers|bluetooth speaker,portable speaker,speaker,emberton",
                            "Smart Speakers",
                            "Bookshelf Speakers",
                            "Party Speakers",
                            "Computer Speakers",
                        ],
                    ),
                    "Hi-Fi": ((), ["Turntables", "Amplifiers", "CD Players", "Radios", "DACs"]),
                    "Microphones & Recorders": ((), ["Dictaphones", "Podcast Microphones"]),
                },
            ),
            "Cameras & Photo": (
                (),
                {
                    "Digital Cameras": (
                        (
                            Aspect("Type", True, ("Mirrorless", "DSLR", "Compact", "Action", "Instant")),
                            Aspect("Effective Megapixels"),
                        ),
                        [
                            "Mirrorless Cameras|mirrorless,alpha,eos,z50ii,z6iii,z fc,x t5,x s20,x m5,zv e10",
                            "DSLR Cameras|dslr",
                            "Compact Cameras",
                            "Action Cameras|gopro,action camera",
                            "Instant Cameras",
                        ],
                    ),
                    "Camera Lenses": (
                        (Aspect("Mount", True),),
                        ["Zoom Lenses", "Prime Lenses", "Lens Adapters"],
                    ),
                    "Camera Accessories": (
                        (),
                        [
                            "Tripods",
                            "Camera Bags",
                            "Memory Cards",
                            "Camera Batteries",
                            "Flashes",
                            "Filters",
                            "Gimbals",
                        ],
                    ),
                    "Drones": ((), ["Camera Drones", "FPV Drones", "Drone Parts"]),
                },
            ),
            "Video Games & Consoles": (
                (),
                {
                    "Consoles": (
                        (
                            STORAGE,
                            Aspect(
                                "Platform",
                                True,
                                (
                                    "PlayStation 5",
                                    "Xbox Series X|S",
                                    "Nintendo Switch",
                                    "Nintendo Switch 2",
                                    "Other",
                                ),
                            ),
                        ),
                        ["Video Game Consoles|console,playstation,xbox,switch", "Handheld Consoles"],
                    ),
                    "Video Games": (
                        (Aspect("Platform", True),),
                        ["PlayStation Games", "Xbox Games", "Nintendo Games", "PC Games"],
                    ),
                    "Gaming Accessories": (
                        (),
                        [
                            "Controllers|controller,gamepad,dualsense",
                            "Charging Docks",
                            "Racing Wheels",
                            "VR Headsets",
                        ],
                    ),
                },
            ),
            "Wearable Technology": (
                (),
                {
                    "Smart Watches": (
                        (Aspect("Case Size"),),
                        ["Smartwatches|watch,smartwatch", "Fitness Trackers"],
                    ),
                    "Smart Glasses": ((), ["Smart Glasses", "VR Glasses"]),
                },
            ),
            "Smart Home": (
                (),
                {
                    "Smart Home Devices": (
                        (),
                        [
                            "Smart Plugs",
                            "Smart Lighting",
                            "Smart Thermostats",
                            "Security Cameras",
                            "Video Doorbells",
                            "Smart Locks",
                        ],
                    ),
                },
            ),
        },
    ),
    "Home Appliances": (
        (BRAND, MODEL, COLOUR),
        {
            "Kitchen Appliances": (
                (Aspect("Power", required=False),),
                {
                    "Small Kitchen Appliances": (
                        (),
                        [
                            "Coffee Machines|coffee,espresso,nespresso,barista,bambino,dedica,magnifica,cafe series,eletta",
                            "Air Fryers|air fryer,airfryer",
                            "Blenders|blender,nutribullet",
                            "Food Processors",
                            "Stand Mixers|mixer,kitchenaid",
                            "Toasters|toaster",
                            "Kettles|kettle",
                            "Microwaves|microwave",
                            "Slow Cookers",
                            "Rice Cookers",
                            "Juicers",
                            "Sandwich Presses",
                            "Bread Makers",
                        ],
                    ),
                    "Cooking Appliances": ((), ["Ovens", "Cooktops", "Rangehoods", "Freestanding Cookers"]),
                },
            ),
            "Laundry & Refrigeration": (
                (
                    Aspect(
                        "Energy Rating", True, ("1 Star", "2 Star", "3 Star", "4 Star", "5 Star", "6 Star")
                    ),
                ),
                {
                    "Laundry": (
                        (Aspect("Capacity", True),),
                        [
                            "Washing Machines|washer,washing machine,front loader,top loader",
                            "Dryers|dryer",
                            "Washer Dryer Combos",
                        ],
                    ),
                    "Refrigeration": (
                        (Aspect("Capacity", True),),
                        ["Fridges|fridge,refrigerator,fridge freezer", "Freezers|freezer", "Wine Fridges"],
                    ),
                    "Dishwashers": (
                        (Aspect("Place Settings"),),
                        ["Freestanding Dishwashers|dishwasher", "Built-in Dishwashers"],
                    ),
                },
            ),
            "Floorcare": (
                (POWER,),
                {
                    "Vacuum Cleaners": (
                        (Aspect("Type", True, ("Stick", "Robot", "Barrel", "Upright", "Handheld")),),
                        [
                            "Stick Vacuums|stick vacuum,cordless vacuum,dyson,jet,detect",
                            "Robot Vacuums|robot,roomba,roborock",
                            "Barrel Vacuums",
                            "Upright Vacuums",
                            "Handheld Vacuums",
                        ],
                    ),
                    "Floor Cleaners": ((), ["Steam Mops", "Carpet Cleaners", "Wet & Dry Vacuums"]),
                },
            ),
            "Heating & Cooling": (
                (),
                {
                    "Climate Control": (
                        (),
                        [
                            "Heat Pumps",
                            "Fan Heaters",
                            "Oil Column Heaters",
                            "Dehumidifiers",
                            "Air Purifiers",
                            "Pedestal Fans",
                            "Portable Air Conditioners",
                        ],
                    ),
                },
            ),
            "Personal Care": (
                (),
                {
                    "Hair Care": ((), ["Hair Dryers", "Hair Straighteners", "Hair Clippers"]),
                    "Shaving": ((), ["Electric Shavers", "Trimmers", "Electric Toothbrushes"]),
                },
            ),
        },
    ),
    "Tools & Hardware": (
        (BRAND, MODEL, POWER),
        {
            "Power Tools": (
                (Aspect("Voltage", True), Aspect("Battery Included", values=("Yes", "No"))),
                {
                    "Drills & Drivers": (
                        (),
                        [
                            "Drills|drill,hammer drill,drill driver",
                            "Impact Drivers|impact driver",
                            "Rotary Hammers",
                            "Screwdrivers",
                        ],
                    ),
                    "Saws": (
                        (),
                        [
                            "Circular Saws|circular saw",
                            "Jigsaws|jigsaw",
                            "Mitre Saws",
                            "Reciprocating Saws",
                            "Table Saws",
                            "Chainsaws",
                        ],
                    ),
                    "Grinders & Sanders": (
                        (),
                        ["Angle Grinders|grinder", "Orbital Sanders|sander", "Belt Sanders"],
                    ),
                    "Power Tool Kits": (
                        (),
                        ["Combo Kits|combo kit,kit", "Batteries & Chargers|battery,charger"],
                    ),
                    "Outdoor Power Equipment": (
                        (),
                        [
                            "Lawn Mowers",
                            "Line Trimmers",
                            "Leaf Blowers|blower",
                            "Hedge Trimmers",
                            "Water Blasters",
                        ],
                    ),
                },
            ),
            "Hand Tools": (
                (),
                {
                    "Hand Tools": (
                        (),
                        [
                            "Hammers",
                            "Spanners & Wrenches",
                            "Pliers",
                            "Tool Sets",
                            "Measuring Tapes",
                            "Levels",
                            "Utility Knives",
                            "Screwdriver Sets",
                        ],
                    ),
                    "Tool Storage": ((), ["Tool Boxes", "Tool Bags", "Workbenches"]),
                },
            ),
        },
    ),
    "Musical Instruments": (
        (BRAND, MODEL, Aspect("Year")),
        {
            "Guitars & Basses": (
                (DEXTERITY,),
                {
                    "Guitars": (
                        (
                            Aspect("Body Type", True, ("Solid", "Hollow", "Semi-Hollow")),
                            Aspect("Number of Strings", True, ("6", "7", "8", "12")),
                            Aspect("Finish"),
                        ),
                        [
                            "Electric Guitars|electric guitar,stratocaster,telecaster,les paul,sg,strat,es 335,semi-hollow,pacifica",
                            "Acoustic Guitars|acoustic,dreadnought",
                            "Classical Guitars|classical,nylon",
                            "Acoustic-Electric Guitars",
                            "Travel Guitars",
                        ],
                    ),
                    "Basses": (
                        (Aspect("Number of Strings", True, ("4", "5", "6")),),
                        ["Electric Basses|bass,precision bass,jazz bass", "Acoustic Basses"],
                    ),
                    "Guitar Parts": ((), ["Pickups", "Strings", "Tuners", "Bridges", "Necks"]),
                },
            ),
            "Amplifiers & Effects": (
                (),
                {
                    "Amplifiers": (
                        (
                            Aspect("Power Output"),
                            Aspect("Amplifier Type", True, ("Combo", "Head", "Cabinet", "Desktop")),
                        ),
                        ["Guitar Amplifiers|amp,amplifier,combo", "Bass Amplifiers", "Keyboard Amplifiers"],
                    ),
                    "Effects": (
                        (),
                        [
                            "Effects Pedals|pedal,overdrive,delay,reverb,fuzz",
                            "Multi-Effects|multi-effects,processor",
                            "Pedalboards",
                        ],
                    ),
                },
            ),
            "Keyboards & Pianos": (
                (Aspect("Number of Keys", True, ("25", "37", "49", "61", "76", "88")),),
                {
                    "Keyboards": (
                        (),
                        [
                            "Digital Pianos|digital piano,stage piano",
                            "Synthesizers|synth,synthesizer",
                            "MIDI Controllers|midi,controller",
                            "Portable Keyboards|keyboard",
                            "Organs",
                        ],
                    ),
                },
            ),
            "Drums & Percussion": (
                (),
                {
                    "Drums": (
                        (),
                        [
                            "Acoustic Drum Kits",
                            "Electronic Drum Kits",
                            "Cymbals",
                            "Snare Drums",
                            "Hand Percussion",
                        ],
                    ),
                },
            ),
            "Pro Audio": (
                (),
                {
                    "Recording": (
                        (),
                        [
                            "Audio Interfaces|audio interface",
                            "Studio Monitors",
                            "Studio Microphones",
                            "Mixers",
                            "DJ Controllers",
                        ],
                    ),
                },
            ),
            "Band & Orchestra": (
                (),
                {
                    "Wind & Strings": (
                        (),
                        ["Saxophones", "Trumpets", "Flutes", "Violins", "Cellos", "Ukuleles"],
                    ),
                },
            ),
        },
    ),
    "Home & Garden": (
        (BRAND, MATERIAL, COLOUR),
        {
            "Furniture": (
                (),
                {
                    "Living Room": ((), ["Sofas", "Armchairs", "Coffee Tables", "TV Units", "Bookcases"]),
                    "Bedroom": ((SIZE,), ["Beds", "Mattresses", "Bedside Tables", "Dressers", "Wardrobes"]),
                    "Office": ((), ["Desks", "Office Chairs", "Filing Cabinets"]),
                    "Outdoor Furniture": ((), ["Outdoor Settings", "Outdoor Chairs", "Sun Loungers"]),
                },
            ),
            "Kitchen & Dining": (
                (),
                {
                    "Cookware": ((), ["Frying Pans", "Saucepans", "Cookware Sets", "Bakeware", "Cast Iron"]),
                    "Tableware": ((), ["Dinner Sets", "Glassware", "Cutlery Sets", "Mugs"]),
                    "Kitchen Utensils": (
                        (),
                        ["Knives", "Chopping Boards", "Kitchen Scales", "Storage Containers"],
                    ),
                },
            ),
            "Garden": (
                (),
                {
                    "Gardening": (
                        (),
                        [
                            "Garden Hoses",
                            "Pots & Planters",
                            "Garden Hand Tools",
                            "Seeds & Bulbs",
                            "Greenhouses",
                            "Composters",
                        ],
                    ),
                    "BBQs & Outdoor Cooking": (
                        (Aspect("Fuel Type", True, ("Gas", "Charcoal", "Electric", "Pellet")),),
                        ["Gas BBQs", "Charcoal BBQs", "Pizza Ovens", "Smokers"],
                    ),
                },
            ),
            "Home Decor": (
                (),
                {
                    "Decor": (
                        (),
                        [
                            "Rugs",
                            "Curtains",
                            "Cushions",
                            "Wall Art",
                            "Mirrors",
                            "Clocks",
                            "Candles",
                            "Vases",
                            "Lamps",
                        ],
                    ),
                },
            ),
            "Bedding & Bath": (
                (SIZE,),
                {
                    "Bedding": ((), ["Duvets", "Sheet Sets", "Pillows", "Blankets"]),
                    "Bath": ((), ["Towels", "Bath Mats", "Shower Curtains"]),
                },
            ),
        },
    ),
    "Sports & Outdoors": (
        (BRAND, SIZE, COLOUR),
        {
            "Fitness": (
                (),
                {
                    "Exercise Equipment": (
                        (),
                        [
                            "Treadmills",
                            "Exercise Bikes",
                            "Rowing Machines",
                            "Dumbbells",
                            "Kettlebells",
                            "Yoga Mats",
                            "Resistance Bands",
                            "Weight Benches",
                        ],
                    ),
                },
            ),
            "Cycling": (
                (),
                {
                    "Bikes": (
                        (Aspect("Frame Size", True), Aspect("Wheel Size")),
                        ["Mountain Bikes", "Road Bikes", "Electric Bikes|e-bike", "Kids' Bikes", "BMX Bikes"],
                    ),
                    "Cycling Accessories": ((), ["Bike Helmets", "Bike Lights", "Bike Locks", "Bike Pumps"]),
                },
            ),
            "Camping & Hiking": (
                (),
                {
                    "Camping": (
                        (),
                        ["Tents", "Sleeping Bags", "Camping Stoves", "Backpacks", "Headlamps", "Coolers"],
                    ),
                },
            ),
            "Water Sports": (
                (),
                {
                    "Water Sports": (
                        (),
                        ["Surfboards", "Wetsuits", "Kayaks", "Stand-Up Paddle Boards", "Snorkelling"],
                    ),
                },
            ),
            "Team Sports": (
                (),
                {
                    "Ball Sports": (
                        (),
                        [
                            "Rugby Balls",
                            "Footballs",
                            "Basketballs",
                            "Cricket Bats",
                            "Netball",
                            "Golf Clubs",
                            "Tennis Rackets",
                        ],
                    ),
                },
            ),
        },
    ),
    "Clothing, Shoes & Accessories": (
        (BRAND, SIZE, COLOUR, MATERIAL),
        {
            "Men's Clothing": (
                (Aspect("Size Type", values=("Regular", "Big & Tall", "Slim")),),
                {
                    "Men's Clothing": (
                        (),
                        [
                            "Men's T-Shirts",
                            "Men's Shirts",
                            "Men's Jackets",
                            "Men's Jeans",
                            "Men's Shorts",
                            "Men's Jumpers",
                            "Men's Suits",
                        ],
                    ),
                },
            ),
            "Women's Clothing": (
                (),
                {
                    "Women's Clothing": (
                        (),
                        [
                            "Women's Dresses",
                            "Women's Tops",
                            "Women's Jackets",
                            "Women's Jeans",
                            "Women's Skirts",
                            "Women's Activewear",
                        ],
                    ),
                },
            ),
            "Shoes": (
                (Aspect("Shoe Size", True),),
                {
                    "Shoes": ((), ["Men's Sneakers", "Women's Sneakers", "Boots", "Sandals", "Dress Shoes"]),
                },
            ),
            "Accessories": (
                (),
                {
                    "Accessories": (
                        (),
                        ["Watches", "Sunglasses", "Bags & Handbags", "Wallets", "Belts", "Hats", "Jewellery"],
                    ),
                },
            ),
        },
    ),
    "Toys & Hobbies": (
        (BRAND, Aspect("Age Level")),
        {
            "Toys": (
                (),
                {
                    "Toys": (
                        (),
                        [
                            "Building Toys|lego",
                            "Action Figures",
                            "Dolls",
                            "Board Games",
                            "Puzzles",
                            "Remote Control Toys",
                            "Educational Toys",
                            "Outdoor Toys",
                            "Plush Toys",
                        ],
                    ),
                },
            ),
            "Hobbies": (
                (),
                {
                    "Collectibles": (
                        (),
                        ["Trading Cards", "Coins", "Stamps", "Model Trains", "Model Kits", "Diecast"],
                    ),
                    "Arts & Crafts": ((), ["Painting Supplies", "Drawing", "Sewing Machines", "Knitting"]),
                },
            ),
        },
    ),
    "Health & Beauty": (
        (BRAND,),
        {
            "Beauty": (
                (),
                {
                    "Skin Care": ((), ["Moisturisers", "Cleansers", "Sunscreen", "Serums"]),
                    "Makeup": ((), ["Foundation", "Lipstick", "Mascara", "Makeup Brushes"]),
                    "Fragrance": ((Aspect("Volume", True),), ["Women's Fragrance", "Men's Fragrance"]),
                },
            ),
            "Health": (
                (),
                {
                    "Health Care": ((), ["Blood Pressure Monitors", "Thermometers", "Massagers", "Scales"]),
                },
            ),
        },
    ),
    "Baby": (
        (BRAND,),
        {
            "Baby Gear": (
                (),
                {
                    "Baby Gear": (
                        (),
                        [
                            "Prams & Strollers",
                            "Car Seats",
                            "Baby Monitors",
                            "High Chairs",
                            "Cots",
                            "Baby Carriers",
                        ],
                    ),
                },
            ),
        },
    ),
    "Automotive": (
        (BRAND, Aspect("Fitment")),
        {
            "Car Parts & Accessories": (
                (),
                {
                    "Car Electronics": ((), ["Dash Cams", "Car Stereos", "GPS Units", "Car Chargers"]),
                    "Car Care": ((), ["Car Polishers", "Pressure Washers", "Car Vacuums"]),
                    "Tyres & Wheels": ((Aspect("Rim Diameter", True),), ["Tyres", "Wheels", "Wheel Covers"]),
                },
            ),
        },
    ),
    "Books, Music & Film": (
        (),
        {
            "Books": (
                (Aspect("Author", True), Aspect("Format", values=("Paperback", "Hardcover", "Audiobook"))),
                {
                    "Books": ((), ["Fiction", "Non-Fiction", "Children's Books", "Cookbooks", "Textbooks"]),
                },
            ),
            "Music & Film": (
                (Aspect("Format", True, ("CD", "Vinyl", "DVD", "Blu-ray", "Cassette")),),
                {
                    "Media": ((), ["Vinyl Records", "CDs", "DVDs", "Blu-rays"]),
                },
            ),
        },
    ),
    "Pet Supplies": (
        (BRAND,),
        {
            "Pets": (
                (),
                {
                    "Pet Supplies": (
                        (),
                        [
                            "Dog Beds",
                            "Cat Trees",
                            "Pet Food Bowls",
                            "Leashes & Collars",
                            "Aquariums",
                            "Pet Carriers",
                        ],
                    ),
                },
            ),
        },
    ),
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _walk(name: str, spec, parent: Node | None) -> Iterator[Node]:
    if isinstance(spec, str):  # a leaf with keywords: "Name|word,word"
        own, children = (), None
    else:
        own, children = spec
    label, _, words = name.partition("|")
    path = (*parent.path, label) if parent else (label,)
    key = f"{parent.key}/{slug(label)}" if parent else slug(label)
    inherited = parent.aspects if parent else ()
    names = {a.name for a in own}
    aspects = tuple(a for a in inherited if a.name not in names) + tuple(own)
    node = Node(
        key=key,
        path=path,
        aspects=aspects,
        keywords=tuple(w.strip() for w in words.split(",") if w.strip()),
        leaf=not children,
    )
    yield node
    if isinstance(children, dict):
        for child_name, child in children.items():
            yield from _walk(child_name, child, node)
    elif isinstance(children, list):
        for leaf in children:
            yield from _walk(leaf, leaf, node)


@cache
def nodes() -> tuple[Node, ...]:
    """Every category, parents before their children, in the tree's order."""
    return tuple(node for name, spec in TREE.items() for node in _walk(name, spec, None))


@cache
def leaves() -> tuple[Node, ...]:
    return tuple(node for node in nodes() if node.leaf)


@cache
def by_key() -> dict[str, Node]:
    return {node.key: node for node in nodes()}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1}


def rank(
    text: str, *, limit: int = 5, candidates: tuple[Node, ...] | None = None
) -> list[tuple[Node, float]]:
    """Leaves that `text` (a title, with brand and our category) points to, best first, each with a score
    in 0..1: the share of the leaf's name and keywords found in the text, weighted to the leaf's own
    name over its branch's. A simulator's category-suggestion endpoint answers with this."""
    words = _words(text)
    lowered = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    scored = []
    for node in candidates or leaves():
        own = _words(node.name)
        score = 0.0
        if own:
            score += 0.55 * len(own & words) / len(own)
        for keyword in node.keywords:
            if f" {' '.join(re.findall(r'[a-z0-9]+', keyword.lower()))} " in lowered:
                score += 0.35
                break
        branch = set().union(*(_words(name) for name in node.path[:-1])) if node.depth > 1 else set()
        if branch:
            score += 0.25 * len(branch & words) / len(branch)
        if score > 0:
            scored.append((node, min(score, 1.0)))
    scored.sort(key=lambda pair: (-pair[1], pair[0].key))
    return scored[:limit]
