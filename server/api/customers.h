/* /v1/customers/{customer}: a customer's history across surveys, and erasure (GDPR article 17). */
#ifndef SURVEYD_CUSTOMERS_H
#define SURVEYD_CUSTOMERS_H

#include "http.h"

enum http_next customers_history(struct http_request *req);
enum http_next customers_erase(struct http_request *req);

#endif
