"""Prose for the PDF documents: maintenance tips and brochure text.

Kept apart from the layout code in ``documents.py``. Core PDF fonts only
cover Latin-1, so the text stays plain ASCII.
"""

from __future__ import annotations

from data.generator import reference as ref

# (file stem, title, [(section heading, [tips])])
MAINTENANCE_SHEETS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("battery_care", "Battery Care Tips", (
        ("Everyday charging", (
            "Keep the daily charge limit at 80% and charge to 100% only before long trips.",
            "Prefer AC charging at home; use DC fast charging when you need it on the road.",
            "Avoid leaving the car below 10% state of charge for more than a few hours.",
            "Plug in when the car is parked for several days so the battery management system can keep "
            "the pack balanced.",
        )),
        ("Heat and cold", (
            "In hot weather park in the shade or in a garage: the pack ages faster above 35 C.",
            "In cold weather precondition the battery from the app while still plugged in.",
            "Expect 10-30% less range below 0 C; the heat pump and seat heaters use less energy than "
            "cabin air heating.",
            "Before a DC fast charge in winter, set the charger as navigation destination so the pack "
            "warms up on the way.",
        )),
        ("Long-term storage", (
            "For storage longer than a month, leave the car at 50-60% state of charge.",
            "Disable sentry and keep-awake features to limit standby drain.",
            "Check the 12 V auxiliary battery every three months if the car is not driven.",
        )),
        ("What the battery warranty covers", (
            "The high-voltage battery is covered for 8 years or 160,000 km, whichever comes first.",
            "A pack that falls below 70% state of health within the warranty period is repaired or replaced.",
            "A yearly battery check (service type battery_check) records the state of health in the service history.",
        )),
    )),
    ("tires_and_brakes", "Tires, Wheels and Brakes", (
        ("Tires", (
            "Electric vehicles are heavy and deliver full torque at once: check tire pressure every month.",
            "Rotate the tires every 10,000 km (service type tire_rotation) to even out wear.",
            "Use tires with the EV load rating printed on the door pillar label.",
            "Replace tires when the tread depth falls below 3 mm for wet-road safety.",
        )),
        ("Brakes", (
            "Regenerative braking does most of the work, so pads can last over 100,000 km.",
            "Because the friction brakes are used rarely, rotors can corrode: brake firmly from time to time.",
            "Have the brakes inspected every 2 years (service type brake_inspection), and yearly in "
            "regions with salted roads.",
            "Replace the brake fluid every 2 years; a BRAKE_FLUID_CHECK_DUE flag in the app is a reminder.",
        )),
        ("Wheels and alignment", (
            "Check the alignment after hitting a curb or pothole; uneven wear shortens tire life.",
            "Clean wheels in winter to remove road salt from the brake calipers.",
        )),
    )),
    ("service_schedule", "Service Schedule and Seasonal Care", (
        ("Recommended intervals", (
            "Tire rotation: every 10,000 km.",
            "Cabin air filter (service type cabin_air_filter): every 2 years.",
            "Battery coolant (service type coolant_service): every 4 years or 80,000 km.",
            "Wiper blades (service type wiper_replacement): every year.",
            "12 V auxiliary battery (service type 12v_battery_replacement): when the app shows AUX_BATTERY_LOW.",
            "Software: install over-the-air updates when SOFTWARE_UPDATE_AVAILABLE appears "
            "(service type software_update).",
        )),
        ("Before winter", (
            "Fit winter tires when temperatures stay below 7 C.",
            "Top up washer fluid rated for freezing temperatures.",
            "Schedule preconditioning for your daily departure time.",
        )),
        ("Before summer", (
            "Check the cabin air filter and the air conditioning performance.",
            "Plan road trips with the charging map: DC fast chargers are busier in the holidays.",
        )),
    )),
)

SERVICE_TABLE = tuple(
    (name, f"{low:.0f}-{high:.0f}" if high else "included") for name, low, high, _ in ref.SERVICE_TYPES
)

BROCHURE_INTRO = (
    "FutureMobility builds electric vehicles for every kind of driver: compact city cars, family SUVs, "
    "a van for growing businesses and a pickup for work and adventure. Every model charges at ChargeNet "
    "stations across the United States and receives over-the-air software updates. This brochure compares "
    "the current line-up side by side so you can find the model that fits your life."
)
BROCHURE_OWNERSHIP = (
    ("Charging", "All models accept AC charging at home and DC fast charging on the road. Models on the "
     "800 V platform reach higher peak power and need less time from 10 to 80%."),
    ("Warranty", "Every model comes with a 4-year or 80,000 km vehicle warranty and an 8-year or 160,000 km "
     "battery warranty with at least 70% state of health."),
    ("Service", "Electric drivetrains need little maintenance: tire rotations, brake checks, cabin filters "
     "and software updates. See the maintenance tips sheets for the schedule."),
)
