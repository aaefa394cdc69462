// Package salesforce is retl's Salesforce sink: it writes records to one
// object with insert, update (by Id), upsert (by external id), delete or
// hard delete, through the Bulk API 2.0 (the default) or sObject
// Collections (REST), chosen per sync or automatically by size.
//
// One record never halts the others: Salesforce's rejection of a record,
// and the failure of a request after its retries, become that record's
// Result. Fields marked set_if_empty are read first and not sent where the
// record already holds a value.
//
// The Client underneath is reusable on its own: it authenticates (JWT
// bearer, client credentials, password, or the legacy SOAP login through
// simpleforce), shares one token among all callers and refreshes it once
// on expiry, retries what is safe to retry, and offers Query, Describe and
// CurrentValues.
//
// See README.md for the configuration keys and the retry policy.
package salesforce
