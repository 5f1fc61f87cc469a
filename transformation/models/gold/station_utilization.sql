with stations as (
    select * from {{ lakehouse.silver('silver_chargenet_stations') }}
),

sessions as (
    select * from {{ lakehouse.silver('silver_chargenet_charging_sessions') }}
),

per_station as (
    select
        station_id,
        count(*) as sessions,
        sum(energy_kwh) as energy_kwh,
        sum(cost_usd) as revenue_usd,
        avg(duration_minutes) as avg_session_minutes,
        max(started_at) as last_session_at
    from sessions
    group by 1
),

hours as (
    select station_id, extract(hour from started_at) as hour_utc, count(*) as sessions
    from sessions
    group by 1, 2
),

-- The hour (UTC) with the most session starts; ties go to the earlier hour.
busiest as (
    select station_id, hour_utc as busiest_hour_utc
    from (
        select station_id, hour_utc, row_number() over (partition by station_id order by sessions desc, hour_utc) as hour_rank
        from hours
    ) as ranked
    where hour_rank = 1
),

-- Idle: no session in the 30 days before the newest session of the whole
-- network (relative to the data, so a replayed history gives the same answer).
network as (
    select max(started_at) as newest_session_at from sessions
),

final as (
    select
        stations.station_id,
        stations.name,
        stations.operator,
        stations.charger_type,
        stations.status,
        stations.state,
        stations.num_ports,
        coalesce(per_station.sessions, 0) as sessions,
        coalesce(per_station.energy_kwh, 0) as energy_kwh,
        coalesce(per_station.revenue_usd, 0) as revenue_usd,
        busiest.busiest_hour_utc,
        round(per_station.avg_session_minutes, 1) as avg_session_minutes,
        per_station.last_session_at is null
            or {{ lakehouse.days_between('per_station.last_session_at', 'network.newest_session_at') }} > 30 as is_idle,
        per_station.last_session_at
    from stations
    cross join network
    left join per_station on per_station.station_id = stations.station_id
    left join busiest on busiest.station_id = stations.station_id
)

select * from final
