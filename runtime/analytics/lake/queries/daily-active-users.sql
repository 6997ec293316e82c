-- Daily active users: distinct signed-in users with any event, per UTC day the platform received it.
SELECT dt AS day, count(DISTINCT user_id) AS active_users, count(*) AS events
FROM events
WHERE user_id IS NOT NULL
GROUP BY dt
ORDER BY dt;
