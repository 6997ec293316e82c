-- The five most viewed items per country (events without a country are grouped as "unknown").
SELECT country, content_id, views, distinct_viewers
FROM (
  SELECT coalesce(country, 'unknown') AS country, content_id, count(*) AS views,
         count(DISTINCT user_id) AS distinct_viewers,
         row_number() OVER (PARTITION BY coalesce(country, 'unknown') ORDER BY count(*) DESC, content_id) AS rank
  FROM events
  WHERE type = 'view'
  GROUP BY 1, 2
)
WHERE rank <= 5
ORDER BY country, views DESC, content_id;
