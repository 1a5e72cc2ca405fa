-- name: taken-link-codes
-- Loading a campaign with links: which of the codes $1 a COPY clashed on are already taken.
SELECT code FROM links WHERE code = ANY($1::text[]);

-- name: record-clicks
-- The daemon's click buffer, flushed in one statement: $1 codes, $2 click times, $3 bot flags,
-- $4 user-agent hashes (NULL when not kept). A click is "first" when it is the earliest person's
-- (not a bot's) click of its code in this batch and the code had none before. Every CTE reads the
-- links as they were before the statement, so `prev` sees first_click_at before this update.
WITH batch AS (
    SELECT b.code, b.clicked_at, b.bot, b.ua_hash, b.n
    FROM unnest($1::text[], $2::timestamptz[], $3::boolean[], $4::text[]) WITH ORDINALITY
         AS b(code, clicked_at, bot, ua_hash, n)
), prev AS (
    SELECT l.code, l.campaign_id, l.first_click_at IS NULL AS fresh
    FROM links l WHERE l.code IN (SELECT code FROM batch)
    ORDER BY l.code FOR UPDATE
), firsts AS (
    SELECT DISTINCT ON (code) n FROM batch WHERE NOT bot ORDER BY code, clicked_at, n
), totals AS (
    SELECT code, count(*) FILTER (WHERE NOT bot) AS people, count(*) FILTER (WHERE bot) AS bots,
           min(clicked_at) FILTER (WHERE NOT bot) AS first_at, max(clicked_at) AS last_at
    FROM batch GROUP BY code
), counted AS (
    UPDATE links l
    SET clicks = l.clicks + t.people, bot_clicks = l.bot_clicks + t.bots,
        first_click_at = coalesce(l.first_click_at, t.first_at),
        last_click_at = greatest(l.last_click_at, t.last_at)
    FROM totals t WHERE l.code = t.code
    RETURNING l.code
)
INSERT INTO link_clicks (code, campaign_id, clicked_at, bot, first, ua_hash)
SELECT b.code, p.campaign_id, b.clicked_at, b.bot, p.fresh AND b.n IN (SELECT n FROM firsts), b.ua_hash
FROM batch b JOIN prev p USING (code)
ORDER BY b.n;

-- name: link-stats
-- Clicks of campaign $1: links made, clicks by people and by bots, unique clickers (recipients
-- with a person's click on any of their links), per country, and per minute over the last $2
-- minutes (0: none). Reads the campaign's links (one index range), not its jobs.
SELECT
    (SELECT count(*) FROM links WHERE campaign_id = $1)::bigint AS links,
    (SELECT coalesce(sum(clicks), 0) FROM links WHERE campaign_id = $1)::bigint AS clicks,
    (SELECT coalesce(sum(bot_clicks), 0) FROM links WHERE campaign_id = $1)::bigint AS bot_clicks,
    (SELECT count(DISTINCT line) FROM links WHERE campaign_id = $1 AND clicks > 0)::bigint AS clickers,
    (SELECT count(*) FROM links WHERE campaign_id = $1 AND clicks > 0)::bigint AS clicked_links,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(c.country, c.clicks, c.clickers) ORDER BY c.clicks DESC, c.country), '[]')
     FROM (SELECT coalesce(country, '') AS country, sum(clicks)::bigint AS clicks,
                  count(DISTINCT line) FILTER (WHERE clicks > 0)::bigint AS clickers
           FROM links WHERE campaign_id = $1 GROUP BY 1 HAVING sum(clicks) > 0) AS c) AS countries,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(t.minute, t.clicks, t.firsts) ORDER BY t.minute), '[]')
     FROM (SELECT date_trunc('minute', clicked_at) AS minute, count(*)::bigint AS clicks,
                  count(*) FILTER (WHERE first)::bigint AS firsts
           FROM link_clicks
           WHERE campaign_id = $1 AND NOT bot AND $2 > 0 AND clicked_at > now() - make_interval(mins => $2)
           GROUP BY 1) AS t) AS timeline;

-- name: codes-taken
-- The guessing test and benchmark: how many of the codes $1 exist (one indexed probe each).
SELECT count(*) FROM links WHERE code = ANY($1::text[]);

-- name: link-targets
-- The redirect's lookups that arrived together, in one statement: a primary-key probe per code $1.
SELECT code, target, campaign_id, created_at FROM links WHERE code = ANY($1::text[]);
