{{ config(unique_key='session_id') }}

{%- set columns = [
    'session_id', 'station_id', 'vehicle_id', 'customer_id', 'payment_method', 'port_number',
    'energy_kwh', 'cost_usd', 'duration_minutes', 'is_roaming', 'started_at', 'ended_at',
    '_source_key', '_ingested_at',
] %}

with bronze_sessions as (
    select * from {{ source('bronze', 'chargenet_charging_sessions') }}
    {{ lakehouse.new_bronze_rows('chargenet_charging_sessions') }}
),

typed as (
    select
        {{ lakehouse.clean_text('session_id') }} as session_id,
        {{ lakehouse.clean_text('station_id') }} as station_id,
        {{ lakehouse.clean_text('vehicle_id') }} as vehicle_id,
        {{ lakehouse.clean_text('customer_id') }} as customer_id,
        lower({{ lakehouse.clean_text('payment_method') }}) as payment_method,
        port_number,
        energy_kwh,
        cost_usd,
        {{ lakehouse.minutes_between('start_time', 'end_time') }} as duration_minutes,
        -- Roaming: a vehicle ChargeNet does not know (never sold by EcoRide) charges
        -- without a customer account (data/README.md, unknown_vehicle).
        {{ lakehouse.clean_text('customer_id') }} is null as is_roaming,
        start_time as started_at,
        end_time as ended_at,
        _source_key,
        _ingested_at
    from bronze_sessions
    where {{ lakehouse.clean_text('session_id') }} is not null
      and {{ lakehouse.sessions_rule() }} is null
),

{{ lakehouse.current_versions('typed', 'session_id', columns) }}

select * from final
