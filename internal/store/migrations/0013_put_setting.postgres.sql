-- One round trip per settings write: under the business's settings lock
-- (the key store.Update's transactions lock), check that the object and the
-- one its rule reads are still at the versions the writer read, then write
-- the document, its audit row and the notification other instances apply.
-- Returns the new version, or -1 (nothing written) when either changed.
CREATE FUNCTION bizsec_put_setting(p_business TEXT, p_kind TEXT, p_base BIGINT, p_doc TEXT, p_at BIGINT,
    p_actor TEXT, p_old TEXT, p_new TEXT, p_other TEXT, p_other_base BIGINT, p_key TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    v BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('settings:' || p_business, 0));
    SELECT version INTO v FROM settings WHERE business_id = p_business AND kind = p_kind;
    IF COALESCE(v, 0) <> p_base THEN
        RETURN -1;
    END IF;
    IF p_other <> '' THEN
        v := NULL;
        SELECT version INTO v FROM settings WHERE business_id = p_business AND kind = p_other;
        IF COALESCE(v, 0) <> p_other_base THEN
            RETURN -1;
        END IF;
    END IF;
    INSERT INTO settings (business_id, kind, doc, version, updated_at) VALUES (p_business, p_kind, p_doc, p_base + 1, p_at)
        ON CONFLICT (business_id, kind) DO UPDATE SET doc = excluded.doc, version = excluded.version, updated_at = excluded.updated_at;
    INSERT INTO audit (business_id, kind, version, at, actor, old_doc, new_doc)
        VALUES (p_business, p_kind, p_base + 1, p_at, p_actor, p_old, p_new);
    PERFORM pg_notify('bizsec_settings', p_key);
    RETURN p_base + 1;
END
$$;
