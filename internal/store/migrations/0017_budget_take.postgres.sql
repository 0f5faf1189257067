-- A budget take of several charges, all or none, in one round trip
-- (store.Take on PostgreSQL, where a transaction of the same statements
-- costs a round trip per charge and two for BEGIN and COMMIT). Each charge
-- is the GCRA step of store.Take's statement. The first charge its bucket
-- cannot pay undoes the others (the inner block's savepoint; local
-- variables keep their values) and is reported, 0-based, with its bucket's
-- time, so that the caller can say when to try again. All taken: (-1, 0).
CREATE FUNCTION bizsec_take(p_keys TEXT[], p_ivs BIGINT[], p_at BIGINT, p_pers BIGINT[],
    OUT refused INT, OUT refused_tat BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    t BIGINT;
BEGIN
    refused := -1;
    refused_tat := 0;
    BEGIN
        FOR i IN 1 .. cardinality(p_keys) LOOP
            INSERT INTO budgets (key, tat) VALUES (p_keys[i], p_at + p_ivs[i])
                ON CONFLICT (key) DO UPDATE SET tat = GREATEST(budgets.tat, p_at) + p_ivs[i]
                WHERE GREATEST(budgets.tat, p_at) + p_ivs[i] <= p_at + p_pers[i]
                RETURNING tat INTO t;
            IF NOT FOUND THEN
                refused := i - 1;
                SELECT tat INTO refused_tat FROM budgets WHERE key = p_keys[i];
                RAISE EXCEPTION 'bizsec: budget % spent', p_keys[i] USING ERRCODE = 'BZ002';
            END IF;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'BZ002' THEN
        NULL;
    END;
END
$$;
