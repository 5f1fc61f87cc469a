"""Static reference lists: names, cities, dealerships, model line-up, vocabularies.

Canonical categorical values are defined here; the dirt module derives the
whitespace and casing variants from them.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
    "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Emily",
    "Joshua", "Michelle", "Kevin", "Amanda", "Brian", "Melissa", "Wei", "Stephanie",
    "Luis", "Rebecca", "Jose", "Laura", "Ryan", "Priya", "Jacob", "Amy",
    "Gary", "Angela", "Nicholas", "Maria", "Eric", "Olivia", "Hiroshi", "Sofia",
    "Ahmed", "Fatima", "Diego", "Chloe",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Chen", "Patel", "Kim", "Singh", "Tanaka", "Okafor",
)
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "fastmail.com")


@dataclass(frozen=True)
class City:
    """A US city customers live in and stations stand in."""

    name: str
    state: str
    latitude: float
    longitude: float
    area_code: int
    weight: float
    mean_temp_c: float  # yearly mean, drives battery temperatures


CITIES = (
    City("Austin", "TX", 30.2672, -97.7431, 512, 3, 21),
    City("Dallas", "TX", 32.7767, -96.7970, 214, 4, 19),
    City("Houston", "TX", 29.7604, -95.3698, 713, 5, 21),
    City("San Antonio", "TX", 29.4241, -98.4936, 210, 3, 21),
    City("Los Angeles", "CA", 34.0522, -118.2437, 213, 8, 19),
    City("San Francisco", "CA", 37.7749, -122.4194, 415, 5, 15),
    City("San Diego", "CA", 32.7157, -117.1611, 619, 4, 18),
    City("San Jose", "CA", 37.3382, -121.8863, 408, 4, 17),
    City("Sacramento", "CA", 38.5816, -121.4944, 916, 3, 17),
    City("Seattle", "WA", 47.6062, -122.3321, 206, 4, 12),
    City("Spokane", "WA", 47.6588, -117.4260, 509, 1, 9),
    City("Portland", "OR", 45.5152, -122.6784, 503, 3, 12),
    City("Denver", "CO", 39.7392, -104.9903, 303, 3, 11),
    City("Boulder", "CO", 40.0150, -105.2705, 303, 1, 11),
    City("Phoenix", "AZ", 33.4484, -112.0740, 602, 4, 24),
    City("Tucson", "AZ", 32.2226, -110.9747, 520, 2, 21),
    City("Las Vegas", "NV", 36.1699, -115.1398, 702, 3, 20),
    City("Salt Lake City", "UT", 40.7608, -111.8910, 801, 2, 11),
    City("Chicago", "IL", 41.8781, -87.6298, 312, 5, 10),
    City("Minneapolis", "MN", 44.9778, -93.2650, 612, 2, 8),
    City("Detroit", "MI", 42.3314, -83.0458, 313, 2, 10),
    City("Columbus", "OH", 39.9612, -82.9988, 614, 2, 12),
    City("Atlanta", "GA", 33.7490, -84.3880, 404, 4, 17),
    City("Miami", "FL", 25.7617, -80.1918, 305, 4, 25),
    City("Orlando", "FL", 28.5383, -81.3792, 407, 3, 23),
    City("Tampa", "FL", 27.9506, -82.4572, 813, 2, 23),
    City("Charlotte", "NC", 35.2271, -80.8431, 704, 2, 16),
    City("Raleigh", "NC", 35.7796, -78.6382, 919, 2, 16),
    City("Nashville", "TN", 36.1627, -86.7816, 615, 2, 15),
    City("New York", "NY", 40.7128, -74.0060, 212, 8, 13),
    City("Buffalo", "NY", 42.8864, -78.8784, 716, 1, 9),
    City("Boston", "MA", 42.3601, -71.0589, 617, 4, 11),
    City("Philadelphia", "PA", 39.9526, -75.1652, 215, 4, 13),
    City("Pittsburgh", "PA", 40.4406, -79.9959, 412, 2, 11),
    City("Newark", "NJ", 40.7357, -74.1724, 973, 2, 13),
    City("Baltimore", "MD", 39.2904, -76.6122, 410, 2, 14),
    City("Richmond", "VA", 37.5407, -77.4360, 804, 2, 15),
)

# Dealership name suffixes; one or two stores in the larger metro areas.
DEALERSHIPS = (
    ("Austin", "Domain"), ("Dallas", "Galleria"), ("Houston", "Energy Corridor"),
    ("San Antonio", "Riverwalk"), ("Los Angeles", "Santa Monica"), ("Los Angeles", "Pasadena"),
    ("San Francisco", "Bay Area"), ("San Diego", "Mission Valley"), ("San Jose", "Santana Row"),
    ("Sacramento", "Capitol"), ("Seattle", "South Lake Union"), ("Portland", "Pearl District"),
    ("Denver", "Cherry Creek"), ("Phoenix", "Scottsdale Road"), ("Las Vegas", "Summerlin"),
    ("Salt Lake City", "Sugar House"), ("Chicago", "Lincoln Park"), ("Minneapolis", "North Loop"),
    ("Detroit", "Midtown"), ("Columbus", "Easton"), ("Atlanta", "Buckhead"), ("Miami", "Brickell"),
    ("Orlando", "Lake Nona"), ("Charlotte", "SouthPark"), ("Nashville", "Music Row"),
    ("New York", "Hudson Yards"), ("New York", "Long Island City"), ("Boston", "Seaport"),
    ("Philadelphia", "University City"), ("Newark", "Riverfront"), ("Baltimore", "Harbor East"),
    ("Richmond", "Scott's Addition"),
)

SALE_PAYMENT_METHODS = (("financing", 45), ("lease", 25), ("cash", 15), ("bank_transfer", 15))
SESSION_PAYMENT_METHODS = (("app", 45), ("rfid_card", 25), ("credit_card", 20), ("subscription", 10))
STATION_OPERATORS = (("ChargeNet", 70), ("VoltWay", 15), ("GreenPlug Partners", 15))
STATION_STATUSES = (("active", 88), ("maintenance", 7), ("decommissioned", 5))
STREET_NAMES = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Blvd", "Washington St", "Lake Rd",
    "Hillcrest Ave", "Sunset Blvd", "Market St", "Broadway", "Elm St", "Pine St",
    "Riverside Dr", "Commerce Way", "Innovation Pkwy", "Airport Rd", "College Ave",
)
STATION_SITES = (
    "Plaza", "Mall", "Supermarket", "Park & Ride", "Hotel", "Library", "Travel Center",
    "Office Park", "Stadium", "Hospital", "Airport", "Marina",
)

REVIEW_TAGS = (
    "range", "charging", "comfort", "software", "build quality", "price", "service",
    "performance", "interior", "noise", "cargo space", "reliability",
)

SERVICE_TYPES = (
    ("tire_rotation", 60.0, 120.0, "Rotated tires, pressures set to spec."),
    ("software_update", 0.0, 0.0, "Installed over-the-air firmware update at service center."),
    ("brake_inspection", 80.0, 160.0, "Checked pads and rotors, cleaned calipers."),
    ("cabin_air_filter", 45.0, 90.0, "Replaced cabin air filter."),
    ("battery_check", 0.0, 150.0, "Battery health check, cell balance within tolerance."),
    ("coolant_service", 180.0, 320.0, "Flushed battery coolant loop."),
    ("wiper_replacement", 30.0, 60.0, "Replaced wiper blades."),
    ("12v_battery_replacement", 150.0, 260.0, "Replaced the 12 V auxiliary battery."),
)
SERVICE_FLAGS = (
    ("LOW_TIRE_PRESSURE", 0.04),
    ("TIRE_ROTATION_DUE", 0.03),
    ("SOFTWARE_UPDATE_AVAILABLE", 0.05),
    ("BRAKE_FLUID_CHECK_DUE", 0.01),
    ("CABIN_FILTER_DUE", 0.02),
    ("AUX_BATTERY_LOW", 0.01),
)


@dataclass(frozen=True)
class ModelBase:
    """Fixed traits of one model of the line-up; figures get seeded jitter."""

    code: str
    name: str
    body_type: str
    model_year: int
    seats: int
    battery_kwh: float
    wh_per_km: float
    price_usd: float
    volts: int
    popularity: float


MODEL_LINEUP = (
    ModelBase("AUR", "Aurora", "sedan", 2023, 5, 75.0, 145, 42_000, 400, 12),
    ModelBase("BRZ", "Breeze", "hatchback", 2023, 5, 52.0, 135, 29_900, 400, 14),
    ModelBase("CMT", "Comet", "crossover", 2024, 5, 68.0, 155, 38_500, 400, 13),
    ModelBase("DRF", "Drift", "coupe", 2024, 4, 82.0, 150, 56_000, 800, 5),
    ModelBase("EMB", "Ember", "suv", 2023, 7, 95.0, 185, 61_000, 400, 9),
    ModelBase("FLX", "Flux", "wagon", 2024, 5, 78.0, 150, 47_000, 400, 6),
    ModelBase("GLD", "Glide", "sedan", 2025, 5, 90.0, 140, 54_000, 800, 7),
    ModelBase("HRZ", "Horizon", "suv", 2024, 7, 110.0, 195, 72_000, 800, 6),
    ModelBase("ION", "Ion", "hatchback", 2025, 4, 45.0, 130, 25_900, 400, 10),
    ModelBase("JNO", "Juno", "van", 2024, 8, 100.0, 230, 58_000, 400, 4),
    ModelBase("KTE", "Kite", "crossover", 2025, 5, 72.0, 160, 41_000, 800, 9),
    ModelBase("LMN", "Lumen", "pickup", 2025, 5, 130.0, 260, 79_000, 800, 5),
)
