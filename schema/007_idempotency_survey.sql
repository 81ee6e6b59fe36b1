-- surveyd schema, version 7: an idempotency record names the survey it belongs to, so deleting the
-- survey deletes its records by that column. Until now the store matched the scope text
-- ('POST /v1/surveys/<id>/responses'), an HTTP path inside the storage layer.
ALTER TABLE idempotency ADD COLUMN survey TEXT;

UPDATE idempotency
   SET survey = substr(scope, 18, length(scope) - 27)
 WHERE scope LIKE 'POST /v1/surveys/%/responses';

CREATE INDEX idempotency_survey ON idempotency(survey) WHERE survey IS NOT NULL;
