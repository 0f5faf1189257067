-- The pipelined settings write (store.pgBatcher) as plain statements: a
-- batch takes the business's settings lock once, in its first statement,
-- and each write is one statement (an UPDATE or INSERT of the object with
-- its audit row and notification, in WITH clauses), where
-- bizsec_put_setting_or_raise (0016) ran a function that ran six. A write
-- whose object, or the one its rule reads, is no longer at the version it
-- was computed from writes no row, and its statement calls bizsec_moved,
-- which raises SQLSTATE BZ001: the pipeline's implicit transaction rolls
-- back, and the store makes its writes again on the locked path.
CREATE FUNCTION bizsec_moved(p_business TEXT, p_kind TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bizsec: the % of %, or the object its rule reads, changed since the write was computed', p_kind, p_business
        USING ERRCODE = 'BZ001';
END
$$;
