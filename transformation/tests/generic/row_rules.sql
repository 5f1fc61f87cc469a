{#- Row rules as generic tests: each returns the rows that break the rule. -#}

{% test non_negative(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{% test positive(model, column_name) %}
select * from {{ model }} where {{ column_name }} <= 0
{% endtest %}

{% test between(model, column_name, min_value, max_value) %}
select * from {{ model }} where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{#- Every row satisfies a boolean SQL expression. -#}
{% test row_rule(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}

{#- The columns together identify a row (a composite grain; dbt_utils is not available). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as rows_per_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
