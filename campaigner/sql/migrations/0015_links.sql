-- Branded short links with per-recipient click tracking (issue 17).
--
-- One row per (recipient, link of the template): loaded by COPY in the transaction that loads the
-- campaign's jobs, so a job that can be sent always has its links. The code is the primary key: the
-- redirect is one index lookup, and a code can never be handed out twice (the loader draws again
-- on a collision). (campaign_id, line) names the job, as a campaign's jobs have one line each.
-- Like jobs, no foreign key (its per-row check slows COPY): a deleted campaign's links go with it
-- by the trigger below.
CREATE TABLE links (
    -- "C": codes compare byte by byte (base62 is case-sensitive), the cheapest index to keep.
    code text COLLATE "C" PRIMARY KEY,
    campaign_id bigint NOT NULL,
    line integer NOT NULL,
    country text,
    -- The link's name in the template (`{link:NAME}`, or the URL itself when written inline).
    name text NOT NULL,
    target text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Written by the click flush, in batches: counts of people (bots left out) and of bots.
    clicks integer NOT NULL DEFAULT 0,
    bot_clicks integer NOT NULL DEFAULT 0,
    first_click_at timestamptz,
    last_click_at timestamptz
);

CREATE INDEX links_campaign ON links (campaign_id, line);

-- Every click, as the daemon's buffer flushes them (one multi-row INSERT per batch). ua_hash is an
-- unkeyed 8-byte BLAKE2b hash of the user agent when links.hash_user_agents is on, never the user
-- agent itself (it tells agents apart; common agents can be hashed and matched); no IP.
CREATE TABLE link_clicks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text COLLATE "C" NOT NULL,
    campaign_id bigint NOT NULL,
    clicked_at timestamptz NOT NULL,
    bot boolean NOT NULL DEFAULT false,
    first boolean NOT NULL DEFAULT false,
    ua_hash text
);

CREATE INDEX link_clicks_campaign ON link_clicks (campaign_id, clicked_at);

CREATE FUNCTION campaigner_delete_campaign_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM links WHERE campaign_id = OLD.id;
    DELETE FROM link_clicks WHERE campaign_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER campaigns_delete_links AFTER DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigner_delete_campaign_links();
