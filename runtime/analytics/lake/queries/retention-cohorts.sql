-- Weekly retention: users grouped by the week of their first event; for each later week, how many
-- of them came back (had any event), as a count and a share of the cohort.
WITH firsts AS (
  SELECT user_id, date_trunc('week', min(ts)) AS cohort
  FROM events WHERE user_id IS NOT NULL GROUP BY user_id
), activity AS (
  SELECT DISTINCT user_id, date_trunc('week', ts) AS week FROM events WHERE user_id IS NOT NULL
), sizes AS (
  SELECT cohort, count(*) AS cohort_users FROM firsts GROUP BY cohort
)
SELECT f.cohort::DATE AS cohort_week,
       date_diff('week', f.cohort, a.week) AS weeks_later,
       count(*) AS users,
       round(count(*) / any_value(s.cohort_users), 3) AS retained
FROM firsts f
JOIN activity a USING (user_id)
JOIN sizes s ON s.cohort = f.cohort
GROUP BY 1, 2
ORDER BY 1, 2;
