{{ config(unique_key='rejected_row_id') }}

-- One row per bronze row that broke a rule, per file it came in (a re-sent file
-- repeats its rows). Facts (sales, reviews, sessions, health) leave such rows
-- out of silver (excluded = true); a customer is kept with the bad value null
-- (excluded = false) because sales reference them.

{%- set checks = [
    ('ecoride_customers', 'customer_id', lakehouse.customers_rule(), false),
    ('ecoride_sales', 'sale_id', lakehouse.sales_rule(), true),
    ('ecoride_product_reviews', 'review_id', lakehouse.reviews_rule(), true),
    ('chargenet_charging_sessions', 'session_id', lakehouse.sessions_rule(), true),
    ('vehicle_health_logs', 'record_id', lakehouse.health_rule(), true),
] %}

with
{% for dataset, key, rule, excluded in checks %}
{{ dataset }}_rejects as (
    select
        '{{ dataset }}' as dataset,
        {{ lakehouse.clean_text(key) }} as business_key,
        {{ rule }} as rule,
        {{ excluded }} as excluded,
        _rescued_data,
        _source_key,
        _ingested_at
    from {{ source('bronze', dataset) }}
    where {{ rule }} is not null
    {%- if is_incremental() %}
      and _ingested_at >= {{ lakehouse.bronze_floor(dataset, "dataset = '" ~ dataset ~ "'") }}
    {%- endif %}
),
{% endfor %}

all_rejects as (
    {% for dataset, key, rule, excluded in checks -%}
    select * from {{ dataset }}_rejects
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select distinct
        dataset || '|' || coalesce(business_key, '') || '|' || rule || '|' || _source_key as rejected_row_id,
        dataset,
        business_key,
        rule,
        _rescued_data,
        excluded,
        _source_key,
        _ingested_at
    from all_rejects
)

select * from final
