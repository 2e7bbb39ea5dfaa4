-- What the canonical inventory left out, by reason: rows, products and units to fix in Odoo.
SELECT
    reason,
    count(*) AS rows,
    count(DISTINCT product_id) AS products,
    sum(quantity) AS quantity
FROM {{ ref('quarantine') }}
GROUP BY reason
ORDER BY rows DESC
