{{ config(unique_key='customer_id') }}

{%- set columns = [
    'customer_id', 'first_name', 'last_name', 'email', 'phone', 'city', 'state', 'country',
    'birth_year', 'has_phone', 'signup_date', '_source_key', '_ingested_at',
] %}

with bronze_customers as (
    select * from {{ source('bronze', 'ecoride_customers') }}
    {{ lakehouse.new_bronze_rows('ecoride_customers') }}
),

-- A customer with an unparseable signup_date is kept (sales reference them) with
-- signup_date null; silver.rejected_rows records the rule with excluded = false.
typed as (
    select
        {{ lakehouse.clean_text('customer_id') }} as customer_id,
        {{ lakehouse.clean_text('first_name') }} as first_name,
        {{ lakehouse.clean_text('last_name') }} as last_name,
        lower({{ lakehouse.clean_text('email') }}) as email,
        {{ lakehouse.clean_text('phone') }} as phone,
        {{ lakehouse.initcap(lakehouse.clean_text('city')) }} as city,
        upper({{ lakehouse.clean_text('state') }}) as state,
        upper({{ lakehouse.clean_text('country') }}) as country,
        birth_year,
        {{ lakehouse.clean_text('phone') }} is not null as has_phone,
        signup_date,
        _source_key,
        _ingested_at
    from bronze_customers
    where {{ lakehouse.clean_text('customer_id') }} is not null
),

{{ lakehouse.current_versions('typed', 'customer_id', columns) }}

select * from final
