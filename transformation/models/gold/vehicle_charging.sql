with sessions as (
    select * from {{ lakehouse.silver('silver_chargenet_charging_sessions') }}
),

sales as (
    select * from {{ lakehouse.silver('silver_ecoride_sales') }}
),

per_vehicle as (
    select
        vehicle_id,
        max(customer_id) as session_customer_id,
        count(*) as sessions,
        sum(energy_kwh) as energy_kwh,
        sum(cost_usd) as cost_usd
    from sessions
    group by 1
),

-- The station the vehicle charged at most often; ties go to the smaller station_id.
favourite as (
    select vehicle_id, station_id as favourite_station_id
    from (
        select vehicle_id, station_id, row_number() over (partition by vehicle_id order by count(*) desc, station_id) as station_rank
        from sessions
        group by 1, 2
    ) as ranked
    where station_rank = 1
),

-- The owner is the buyer of the sale that introduced the vehicle; roaming
-- vehicles (never sold by EcoRide) have none.
final as (
    select
        per_vehicle.vehicle_id,
        coalesce(sales.customer_id, per_vehicle.session_customer_id) as customer_id,
        favourite.favourite_station_id,
        per_vehicle.sessions,
        per_vehicle.energy_kwh,
        per_vehicle.cost_usd,
        sales.sale_id is null as is_roaming
    from per_vehicle
    left join favourite on favourite.vehicle_id = per_vehicle.vehicle_id
    left join sales on sales.vehicle_id = per_vehicle.vehicle_id
)

select * from final
