package snowflake

import "github.com/retl-go/retl/config"

// connectionKeys document Settings and sourceKeys SourceSettings: the
// README's tables are generated from them, and a test holds them to the
// structs' yaml keys.
var connectionKeys = config.Keys{
	{Name: "account", Type: "string", Default: "required", Meaning: "The account identifier."},
	{Name: "user", Type: "string", Default: "none", Meaning: "The login name; required for `snowflake` and `jwt`."},
	{Name: "password", Type: "secret", Default: "none", Meaning: "The password, for `authenticator: snowflake`."},
	{Name: "warehouse", Type: "string", Default: "the user's", Meaning: "The session's warehouse."},
	{Name: "role", Type: "string", Default: "the user's", Meaning: "The session's role."},
	{Name: "database", Type: "string", Default: "the user's", Meaning: "The session's database."},
	{Name: "schema", Type: "string", Default: "the user's", Meaning: "The session's schema."},
	{Name: "authenticator", Type: "`snowflake`, `jwt` or `oauth`", Default: "`snowflake`",
		Meaning: "Password, key pair, or an OAuth access token."},
	{Name: "private_key", Type: "secret (PEM)", Default: "none", Meaning: "An RSA private key, inline, for `jwt`."},
	{Name: "private_key_file", Type: "path", Default: "none", Meaning: "A file holding the PEM RSA private key, for `jwt`; read when the connection opens."},
	{Name: "private_key_passphrase", Type: "secret", Default: "none", Meaning: "The passphrase of an encrypted key."},
	{Name: "token", Type: "secret", Default: "none", Meaning: "The OAuth access token, for `oauth`."},
	{Name: "host", Type: "host name", Default: "from `account`", Meaning: "Where to connect, for private links and emulators."},
	{Name: "port", Type: "integer > 0", Default: "443", Meaning: "The port to connect to."},
	{Name: "protocol", Type: "`https` or `http`", Default: "`https`", Meaning: "`http` only when `host` is a loopback address (an emulator)."},
	{Name: "insecure_mode", Type: "boolean", Default: "`false`", Meaning: "Turns off certificate revocation (OCSP) checks; only when `host` is a loopback address."},
	{Name: "query_tag", Type: "string", Default: "`retl:<sync>:<run id>`", Meaning: "The tag of every query, at most 2,000 characters."},
	{Name: "statement_timeout", Type: "duration", Default: "`1h`",
		Meaning: "Set as the session's `STATEMENT_TIMEOUT_IN_SECONDS`, so a runaway query stops on the server without cutting off a slow sink."},
	{Name: "login_timeout", Type: "duration", Default: "`60s`",
		Meaning: "Bounds the driver's login retries, so an unreachable account fails its sync in a minute rather than after the driver's five."},
}

var sourceKeys = config.Keys{
	{Name: "batch_size", Type: "integer > 0", Default: "10000", Meaning: "Rows per batch handed to the mapping."},
}
