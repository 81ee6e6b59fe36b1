-- surveyd schema, version 3: a customer's history newest first without a sort, and idempotency
-- records found by response (deleting a response deletes the replies that name it).
DROP INDEX responses_customer;
CREATE INDEX responses_customer ON responses(customer, submitted_at, id) WHERE customer IS NOT NULL;
CREATE INDEX idempotency_response ON idempotency(response_id) WHERE response_id IS NOT NULL;
CREATE INDEX idempotency_customer ON idempotency(customer) WHERE customer IS NOT NULL;
