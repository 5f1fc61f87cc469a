{{ config(unique_key='station_id') }}

{%- set columns = [
    'station_id', 'name', 'operator', 'charger_type', 'status', 'address', 'city', 'state',
    'num_ports', 'max_power_kw', 'latitude', 'longitude', 'opened_date', '_source_key', '_ingested_at',
] %}

with bronze_stations as (
    select * from {{ source('bronze', 'chargenet_stations') }}
    {{ lakehouse.new_bronze_rows('chargenet_stations') }}
),

typed as (
    select
        {{ lakehouse.clean_text('station_id') }} as station_id,
        {{ lakehouse.clean_text('name') }} as name,
        {{ lakehouse.clean_text('operator') }} as operator,
        upper({{ lakehouse.clean_text('charger_type') }}) as charger_type,
        lower({{ lakehouse.clean_text('status') }}) as status,
        {{ lakehouse.clean_text('location.address') }} as address,
        {{ lakehouse.initcap(lakehouse.clean_text('location.city')) }} as city,
        upper({{ lakehouse.clean_text('location.state') }}) as state,
        num_ports,
        max_power_kw,
        location.latitude as latitude,
        location.longitude as longitude,
        opened_date,
        _source_key,
        _ingested_at
    from bronze_stations
    where {{ lakehouse.clean_text('station_id') }} is not null
),

-- Operator casing as for sales dealerships: a single-case spelling takes the
-- mixed-case spelling of the same name, else word capitals.
operator_spellings as (
    select lower(operator) as operator_key, min(operator) as operator
    from (
        select operator from typed where not {{ lakehouse.is_single_case('operator') }}
        {%- if is_incremental() %}
        union all
        select distinct operator from {{ this }}
        {%- endif %}
    ) as spellings
    group by 1
),

cased as (
    select
        typed.station_id,
        typed.name,
        case
            when {{ lakehouse.is_single_case('typed.operator') }}
                then coalesce(operator_spellings.operator, {{ lakehouse.initcap('typed.operator') }})
            else typed.operator
        end as operator,
        {% for column in columns[3:] -%}
        typed.{{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from typed
    left join operator_spellings on lower(typed.operator) = operator_spellings.operator_key
),

{{ lakehouse.current_versions('cased', 'station_id', columns) }}

select * from final
