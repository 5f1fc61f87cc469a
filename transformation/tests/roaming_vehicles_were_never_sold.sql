-- The deliberate violation `unknown_vehicle` (data/README.md) on purpose: a session
-- is roaming exactly when its vehicle was never sold by EcoRide. Returns sessions
-- marked roaming whose vehicle was sold (the relationships test on vehicle_id
-- covers the other direction for every non-roaming session).
select sessions.session_id, sessions.vehicle_id
from {{ ref('silver_chargenet_charging_sessions') }} as sessions
inner join {{ ref('silver_ecoride_sales') }} as sales on sales.vehicle_id = sessions.vehicle_id
where sessions.is_roaming
