{{ config(unique_key='maintenance_entry_id') }}

-- One row per maintenance_log entry of the current version of each health record.

with health_records as (
    select * from {{ ref('silver_vehicle_health_logs') }}
    {{ lakehouse.new_bronze_rows() }}
),

entries as (
    {{ lakehouse.unnest_list('health_records', 'maintenance_log', 'entry',
        ['record_id', 'vehicle_id', 'model_id', 'recorded_at', '_source_key', '_ingested_at']) }}
),

final as (
    select
        record_id || '#' || cast(entry_position as {{ dbt.type_string() }}) as maintenance_entry_id,
        record_id,
        vehicle_id,
        model_id,
        lower({{ lakehouse.clean_text('entry.service_type') }}) as service_type,
        {{ lakehouse.clean_text('entry.notes') }} as notes,
        entry_position as entry_number,
        entry.cost_usd as cost_usd,
        entry.date as service_date,
        recorded_at,
        _source_key,
        _ingested_at
    from entries
    where entry is not null
)

select * from final
