package salesforce

import "github.com/retl-go/retl/config"

// The keys of the destination section and of the connection: the
// reference tables of README.md are generated from destinationKeys and
// connectionKeys, and a test holds them to the keys the section and the
// connection decode (destSection, Options, connConfig), so that the schema
// is said once.

// destinationKeys are the keys of a salesforce destination section, in the
// order the reference lists them.
var destinationKeys = config.Keys{
	{Name: "object", Type: "string", Default: "required",
		Meaning: "The object written, such as `Account`."},
	{Name: "operation", Type: "`insert`, `update`, `upsert`, `delete`, `hard_delete`", Default: "required",
		Meaning: "What is done to the records."},
	{Name: "match_on", Type: "field", Default: "`Id` (update, delete); required for upsert",
		Meaning: "How records are found, the one key for it: the external id field (or `Id`) an `upsert` is keyed on; for `update`, `delete` and `hard_delete`, a field whose value finds each record's Id by a query (without it, the mapping to `Id`). Its field must be mapped. Not for `insert`."},
	{Name: "api", Type: "`bulk`, `rest` or `auto`", Default: "`bulk`",
		Meaning: "Bulk API 2.0, sObject Collections, or REST when the whole load is smaller than `auto_threshold`. The same rows leave the same data either way."},
	{Name: "auto_threshold", Type: "integer > 0", Default: "2000",
		Meaning: "With `api: auto`, the record count from which Bulk is used."},
	{Name: "bulk_batch_size", Type: "integer > 0", Default: "30000",
		Meaning: "The most records one Bulk job holds, and the records per write (about 2 KB of memory a record of each job in flight)."},
	{Name: "max_jobs_in_flight", Type: "integer > 0", Default: "2",
		Meaning: "Bulk jobs open at once (also the concurrent writes)."},
	{Name: "rest_concurrency", Type: "integer > 0", Default: "4",
		Meaning: "sObject Collections calls in flight."},
	{Name: "poll_max_wait", Type: "duration", Default: "`5s`",
		Meaning: "The longest pause between two polls of a Bulk job."},
	{Name: "lock_retries", Type: "integer ≥ 0", Default: "2",
		Meaning: "How many later jobs (or REST calls) retry records that failed `UNABLE_TO_LOCK_ROW`; 0 for none."},
	{Name: "on_not_found", Type: "`skip` or `fail`", Default: "`skip`",
		Meaning: "With `match_on`: a record whose value matches no Salesforce record is skipped `not_found`, or with `fail` fails with `RETL_NOT_FOUND`."},
	{Name: "max_deletes", Type: "count, or a percentage such as `10%`", Default: "none",
		Meaning: "The most records one run deletes (`delete`, `hard_delete`) or acts on through the sync's `on_removed`, counting the records its rows find, not the rows: a count such as `500`, or a percentage such as `10%` of the object's records, counted with `SELECT COUNT() FROM <object>` just before the first deletion (records in the Recycle Bin are not counted). Over it, the sync fails before anything is deleted. Not for `insert` or `update`."},
	{Name: "group_by", Type: "field", Default: "none",
		Meaning: "A mapped field naming each record's parent: a lookup Id (`AccountId`) or a lookup by external id (`Account.External_Id__c`). Records are sorted by it, so the children of one parent go to one Bulk job; see *Row locks*."},
	{Name: "serial", Type: "boolean", Default: "`false`",
		Meaning: "One Bulk job at a time (and one REST call): sets `max_jobs_in_flight` and `rest_concurrency` to 1 (either set above 1 beside it is an error), and the Engine hands over one batch at a time."},
	{Name: "max_upload_bytes", Type: "bytes", Default: "104857600 (100 MB)",
		Meaning: "The most CSV bytes one Bulk job uploads. Salesforce takes 150 MB of base64-encoded content per upload (*Upload Job Data*), which is 117,964,800 bytes of CSV; a larger value is a configuration error when the sink is built. A record whose row alone is larger fails `RETL_ROW_TOO_LARGE`."},
	{Name: "gzip_uploads", Type: "boolean", Default: "`false`",
		Meaning: "Sends each Bulk upload with `Content-Encoding: gzip` (fastest level). On the benchmark's rows this saves 81% of the bytes (`BenchmarkGzipUpload`: 999,162 → 189,226 bytes a 10,000-row job, about 90 MB/s of one core). The limit above counts the CSV before compression. The sink's Stats show `upload_bytes` and `upload_bytes_gzipped`. Off by default until checked against a real org."},
	{Name: "api_budget", Type: "integer > 0", Default: "none",
		Meaning: "The most API calls one run of the sync makes. Once they are spent no new Bulk job or REST call starts, and the records left fail with `RETL_API_BUDGET`; a job already started is finished (its upload, polls and results), so those calls can overrun the budget a little, and no record's outcome is lost. Stats count `api_budget` and `api_budget_refused_calls` (above 0 once it is spent), and note `org_api_usage` (the org's `api-usage=N/M` from the last answer's `Sforce-Limit-Info`)."},
	{Name: "on_duplicate_key", Type: "`fail` or `skip`", Default: "`fail`",
		Meaning: "A record whose key an earlier record of the run has: the first is written; each later one fails `RETL_DUPLICATE_KEY` (naming the first row), or is skipped with `skip`. See *Screening*. Not for `insert`."},
	{Name: "assignment_rule", Type: "`default` or a rule Id", Default: "none",
		Meaning: "Lead and Case only. Runs assignment rules on the records saved: `default` the object's active rule, or a rule's Id. The Bulk API 2.0 takes a rule's Id only (`assignmentRuleId`, *Create a Job*), so `default` becomes the active rule's Id, found by one query in the preflight; REST saves carry `Sforce-Auto-Assign` (`TRUE` or the Id, *Assignment Rule Header*). Unset, REST saves carry `Sforce-Auto-Assign: FALSE`: without the header REST runs the active rule, and Bulk does not, so `api: auto` would otherwise assign some loads and not others. A rule of another object, an Id that is no rule, or `default` without an active rule fails the preflight, before anything is sent."},
	{Name: "only_if_different", Type: "boolean", Default: "`false`",
		Meaning: "Update and upsert only. Before a batch is sent, the sink reads the current values of the mapped fields for its keys, by IN lists (`CurrentValues`, one query per few hundred keys) or, chosen as `set_if_empty` chooses (`diffjob.go`), by one Bulk query job of every record with a key that answers the sync's later batches and keeps per record its Id and one 8-byte hash per field of the value in a canonical form (`canon`, which equals a value to send only where `planSame` does; `TestCanonAgreesWithPlanSame`), compares each value as Plan does (`planSame`: numbers at the field's scale, dates, date-times, booleans, picklists and Ids without case, null and `\"\"` as empty), makes every value that would not change `Absent` (an empty Bulk cell, a missing JSON key) and answers a record with nothing left `Skipped: unchanged` with its Id, without sending it. `set_if_empty` is decided from the same read. A record not found, or with a malformed Id, is sent as without the option. Cost per 100,000 records Salesforce already holds, on the emulator (`BenchmarkOnlyIfDifferent`, side by side on a loaded 2-core machine): by the query job 6 calls and 0.29 s, by IN lists 186 calls and 5 to 13 s, nothing sent either way; resending them took 27 calls and 0.87 s; change detection alone sends nothing and calls Salesforce not at all. On Salesforce the resend also costs the saves, their Flows and triggers, and Bulk's daily batch allocation."},
	{Name: "verify", Type: "boolean", Default: "`false`",
		Meaning: "Insert, update and upsert. After each write, reads back by Id the records Salesforce saved and compares each value sent with the value stored, as `only_if_different` compares them (`planSame`: numbers at the field's scale, so Salesforce's own rounding to the scale is no change; dates, date-times, booleans, picklists and Ids without case; null and `\"\"` alike). A field that a trigger, a Flow or rounding changed is reported on the record (its outcome stays written; `altered` in the report, the summary, `RECORD_RESULTS.ALTERED`): `{field, from: sent, to: stored}`. Fields not sent (empty Bulk cells, fields withheld by `set_if_empty` or `only_if_different`) are not compared. Read cost: up to 1,999 records a write, one REST query per about 420 Ids (`WHERE Id IN (...)`, split to keep the URL under Salesforce's limit); from 2,000, one Bulk query job per about 4,000 Ids (its SOQL under 100,000 characters), about 4 calls a job: 10,000 records read back in 12 calls (`TestVerifyLargeWriteReadsByQueryJobs`; 24 queries by IN lists). A read that fails is a warning (`verify: N written records could not be read back; their outcomes stand, unverified`, `VerifyError`) and Stats' `verify_unread`; it never changes an outcome. Stats show `verify_read` and `verify_altered`."},
	{Name: "on_altered", Type: "`report` or `fail`", Default: "`report`",
		Meaning: "With `verify`: an altered record stays written and lists its fields (`report`), or fails `RETL_ALTERED` (`fail`; it was written, its Id and fields are kept) and counts against `on_failure`. Failed rows are sent again by the next run under change detection."},
	{Name: "keep_human_edits", Type: "boolean", Default: "`false`",
		Meaning: "Update and upsert only; needs the sync's `change_detection`, whose state keeps, per record and field, a token (a 64-bit hash of the value in the canonical form `only_if_different` compares) of the value retl last wrote and Salesforce accepted. Before a batch is sent, the sink reads the current values of the records that have such tokens, with `only_if_different`'s reader (IN lists, or one Bulk query job for a large sync), and withholds each field whose current value is no longer the one retl wrote: someone edited it in Salesforce since. It is reported per record in `kept_edits` (\"edited in Salesforce since retl wrote it\"), counted in the summary and shown by `retl plan`; the record's other fields are written. A record or field retl never wrote under the option is written as without it. A mapping entry's own `keep_human_edits: true` or `false` overrides this for its field. Read cost: the records change detection sends (not the unchanged ones) are read once, as `only_if_different` reads them; with `only_if_different` one read serves both. On the emulator, side by side (`BenchmarkKeepHumanEdits`, 100,000 records carrying tokens, none edited): resending them without the option took 18 calls and 0.33 s, with it 24 calls and 0.67 s (the resend plus one query job), with `only_if_different` too 6 calls and 0.34 s, nothing sent. A Flow or trigger that rewrites a field on save counts as an edit."},
	{Name: "predict_rejects", Type: "boolean", Default: "`true`",
		Meaning: "Screen fails, before anything is sent, a record Salesforce would refuse for what the describe tells: text over `length` (counted in UTF-16 units), a malformed email, a value outside a restricted picklist, a number of `double`, `currency` or `percent` beyond `precision` once rounded to `scale`, a required field (not nillable, createable, not defaulted, not boolean) empty on insert or null on update and upsert. The error has Salesforce's code and message (`TestPredictedRejectsAreNotSent` compares them with the emulator's own answers) and `Predicted: true`. The plan runs the same screen. Its cost is within the noise of `BenchmarkScreenPredict` on a loaded machine, with no allocation per record. When the sync maps `RecordTypeId` (an Id, or a `DeveloperName`), a restricted picklist value the record's record type lacks fails the same way: the values of each record type a run meets are read once, from the User Interface API (`/ui-api/object-info/{object}/picklist-values/{recordTypeId}`, *Get Values for All Picklist Fields of a Record Type*), since the describe lists every value of the field; an object that API does not serve, or an unknown record type, is judged by the describe alone."},
}

// connectionKeys are the keys of a salesforce connection in the project
// file.
var connectionKeys = config.Keys{
	{Name: "login_url", Type: "URL", Default: "`https://login.salesforce.com`",
		Meaning: "Where tokens are requested; a My Domain URL is required for `client_credentials`; `https://test.salesforce.com` for sandboxes. `http` only for loopback hosts (the emulator)."},
	{Name: "instance_url", Type: "URL", Default: "the login's answer",
		Meaning: "The API host to use instead of the one the login answers with."},
	{Name: "api_version", Type: "version", Default: "`62.0`",
		Meaning: "The REST API version."},
	{Name: "auth", Type: "`jwt`, `client_credentials`, `password` or `soap`", Default: "required",
		Meaning: "How the client logs in (see *Authentication*)."},
	{Name: "client_id", Type: "string", Default: "none",
		Meaning: "The connected app's consumer key (`jwt`, `client_credentials`, `password`)."},
	{Name: "client_secret", Type: "secret", Default: "none",
		Meaning: "The connected app's consumer secret (`client_credentials`, `password`)."},
	{Name: "username", Type: "string", Default: "none",
		Meaning: "The integration user (`jwt`, `password`, `soap`)."},
	{Name: "password", Type: "secret", Default: "none",
		Meaning: "The integration user's password (`password`, `soap`)."},
	{Name: "security_token", Type: "secret", Default: "none",
		Meaning: "Appended to the password when the org asks for it (`password`, `soap`)."},
	{Name: "private_key", Type: "secret (PEM)", Default: "none",
		Meaning: "The JWT signing key, RSA in PKCS #1 or #8; newlines may arrive escaped. Exactly one of `private_key` and `private_key_file` for `jwt`."},
	{Name: "private_key_file", Type: "path", Default: "none",
		Meaning: "A file holding the JWT signing key."},
	{Name: "audience", Type: "URL", Default: "follows `login_url`",
		Meaning: "The JWT `aud` claim."},
	{Name: "timeout", Type: "duration", Default: "`2m`",
		Meaning: "One HTTP request's limit."},
	{Name: "max_retries", Type: "integer ≥ 0", Default: "5",
		Meaning: "Retries of one request (5xx, dropped connections); 0 for none. See *Retries*."},
	{Name: "retry_max_wait", Type: "duration", Default: "`1m`",
		Meaning: "The total wait between the retries of one request."},
	{Name: "retry_rate_limit", Type: "boolean", Default: "`false`",
		Meaning: "Retry requests answered 403 `REQUEST_LIMIT_EXCEEDED` (the daily limit does not recover within a run)."},
}
