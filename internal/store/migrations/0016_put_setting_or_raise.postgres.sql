-- The pipelined settings write (store.pgBatcher): bizsec_put_setting (0013),
-- but a write whose object, or the one its rule reads, is no longer at the
-- version it was computed from raises SQLSTATE BZ001 instead of returning
-- -1. A pipeline of writes runs as one implicit transaction, so the raise
-- rolls all of them back, and the store makes them again on the locked path.
CREATE FUNCTION bizsec_put_setting_or_raise(p_business TEXT, p_kind TEXT, p_base BIGINT, p_doc TEXT, p_at BIGINT,
    p_actor TEXT, p_old TEXT, p_new TEXT, p_other TEXT, p_other_base BIGINT, p_key TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    v BIGINT;
BEGIN
    v := bizsec_put_setting(p_business, p_kind, p_base, p_doc, p_at, p_actor, p_old, p_new, p_other, p_other_base, p_key);
    IF v < 0 THEN
        RAISE EXCEPTION 'bizsec: the % of % changed since the write was computed', p_kind, p_business
            USING ERRCODE = 'BZ001';
    END IF;
    RETURN v;
END
$$;

-- A write that changes nothing, in a pipeline: it holds only if the object
-- and the one its rule reads are still at the versions it was computed
-- from, else it raises BZ001 as above. It reads without the settings lock:
-- like the read of the locked path, it answers as of the moment it runs.
CREATE FUNCTION bizsec_check_setting(p_business TEXT, p_kind TEXT, p_base BIGINT, p_other TEXT, p_other_base BIGINT)
    RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    v BIGINT;
BEGIN
    SELECT version INTO v FROM settings WHERE business_id = p_business AND kind = p_kind;
    IF COALESCE(v, 0) <> p_base THEN
        RAISE EXCEPTION 'bizsec: the % of % changed since the write was computed', p_kind, p_business
            USING ERRCODE = 'BZ001';
    END IF;
    IF p_other <> '' THEN
        v := NULL;
        SELECT version INTO v FROM settings WHERE business_id = p_business AND kind = p_other;
        IF COALESCE(v, 0) <> p_other_base THEN
            RAISE EXCEPTION 'bizsec: the % of % changed since the write was computed', p_other, p_business
                USING ERRCODE = 'BZ001';
        END IF;
    END IF;
    RETURN p_base;
END
$$;
