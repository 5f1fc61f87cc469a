with health as (
    select * from {{ lakehouse.silver('silver_vehicle_health_logs') }}
),

ranked as (
    select
        *,
        row_number() over (partition by vehicle_id order by recorded_at desc, record_id desc) as newest_rank,
        row_number() over (partition by vehicle_id order by recorded_at, record_id) as oldest_rank
    from health
    where state_of_health_pct is not null
),

latest as (
    select * from ranked where newest_rank = 1
),

first_seen as (
    select * from ranked where oldest_rank = 1
),

measured as (
    select
        latest.vehicle_id,
        latest.model_id,
        latest.state_of_health_pct as latest_state_of_health_pct,
        latest.odometer_km as latest_odometer_km,
        latest.recorded_at as latest_recorded_at,
        {{ lakehouse.days_between('first_seen.recorded_at', 'latest.recorded_at') }} as observed_days,
        first_seen.state_of_health_pct - latest.state_of_health_pct as observed_fade_pct,
        {{ lakehouse.list_length('latest.service_flags') }} as open_service_flags
    from latest
    inner join first_seen on first_seen.vehicle_id = latest.vehicle_id
),

-- Degradation: state-of-health lost per year between the first and the latest
-- report; null below 90 days of history (too short to extrapolate).
-- Risk tier (docs/transformation.md): high when health < 90 % or fade > 4 %/year
-- or 3+ open service flags; medium when health < 95 % or fade > 2.5 %/year or
-- any open flag; low otherwise.
final as (
    select
        vehicle_id,
        model_id,
        case
            when latest_state_of_health_pct < 90 or degradation_pct_per_year > 4 or open_service_flags >= 3 then 'high'
            when latest_state_of_health_pct < 95 or degradation_pct_per_year > 2.5 or open_service_flags >= 1 then 'medium'
            else 'low'
        end as risk_tier,
        latest_state_of_health_pct,
        degradation_pct_per_year,
        latest_odometer_km,
        open_service_flags,
        latest_recorded_at
    from (
        select
            *,
            case
                when observed_days >= 90 then round(cast(observed_fade_pct * 365.25 / observed_days as {{ dbt.type_numeric() }}), 2)
            end as degradation_pct_per_year
        from measured
    ) as with_rate
)

select * from final
