-- Serves abandon-reply-leases, which every reply sender runs every poll: only the replies being
-- sent, not the whole outbox (reply_outbox_due holds only pending ones; the outbox is kept).
CREATE INDEX reply_outbox_sending ON reply_outbox (provider_account, lease_expires_at)
    WHERE state = 'sending';
