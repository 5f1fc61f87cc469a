{{ config(unique_key='model_id') }}

{%- set columns = [
    'model_id', 'model_name', 'body_type', 'model_year', 'battery_capacity_kwh', 'range_km',
    'charge_time_fast_min', 'seats', 'base_price_usd', '_source_key', '_ingested_at',
] %}

with bronze_vehicles as (
    select * from {{ source('bronze', 'ecoride_vehicles') }}
    {{ lakehouse.new_bronze_rows('ecoride_vehicles') }}
),

typed as (
    select
        upper({{ lakehouse.clean_text('model_id') }}) as model_id,
        {{ lakehouse.clean_text('model_name') }} as model_name,
        lower({{ lakehouse.clean_text('body_type') }}) as body_type,
        model_year,
        battery_capacity_kwh,
        range_km,
        charge_time_fast_min,
        seats,
        base_price_usd,
        _source_key,
        _ingested_at
    from bronze_vehicles
    where {{ lakehouse.clean_text('model_id') }} is not null
),

{{ lakehouse.current_versions('typed', 'model_id', columns) }}

select * from final
