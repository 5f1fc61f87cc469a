{{ config(unique_key='record_id') }}

{%- set columns = [
    'record_id', 'vehicle_id', 'model_id', 'service_flags', 'odometer_km', 'state_of_health_pct',
    'cycle_count', 'battery_temperature_c', 'battery_voltage_v', 'efficiency_wh_per_km',
    'motor_temp_c', 'regen_efficiency_pct', 'maintenance_log', 'has_performance', 'recorded_at',
    '_source_key', '_ingested_at',
] %}

with bronze_health as (
    select * from {{ source('bronze', 'vehicle_health_logs') }}
    {{ lakehouse.new_bronze_rows('vehicle_health_logs') }}
),

-- Nested JSON flattened: battery.* and performance.* become columns; the lists stay
-- here (service_flags, read by gold) and maintenance_log becomes silver.vehicle_maintenance_log.
typed as (
    select
        {{ lakehouse.clean_text('record_id') }} as record_id,
        {{ lakehouse.clean_text('vehicle_id') }} as vehicle_id,
        upper({{ lakehouse.clean_text('model_id') }}) as model_id,
        {{ lakehouse.clean_flags('service_flags') }} as service_flags,
        odometer_km,
        battery.state_of_health_pct as state_of_health_pct,
        battery.cycle_count as cycle_count,
        battery.temperature_c as battery_temperature_c,
        battery.voltage_v as battery_voltage_v,
        performance.efficiency_wh_per_km as efficiency_wh_per_km,
        performance.motor_temp_c as motor_temp_c,
        performance.regen_efficiency_pct as regen_efficiency_pct,
        maintenance_log,
        performance is not null as has_performance,
        recorded_at,
        _source_key,
        _ingested_at
    from bronze_health
    where {{ lakehouse.clean_text('record_id') }} is not null
      and {{ lakehouse.health_rule() }} is null
),

{{ lakehouse.current_versions('typed', 'record_id', columns) }}

select * from final
