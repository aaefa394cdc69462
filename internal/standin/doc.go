// Package standin starts the stand-ins that retl's integration tests run
// against, each as a real server on a loopback port:
//
//   - Fakesnow: the fakesnow server (Snowflake's SQL API over DuckDB), for
//     gosnowflake.
//   - Moto: the moto server, for AWS Secrets Manager.
//   - Node: the node binary that runs jsforce against the Salesforce
//     emulator.
//
// The Python stand-ins live in .venv/ at the repository root and jsforce in
// sink/salesforce/sftest/jsforcecheck/node_modules; `make standins` (or
// scripts/standins) installs them from the pins the repository keeps. When
// one is missing a test is skipped, or fails when the environment has
// CI=true, so that CI can never pass by skipping everything.
//
// Every call starts its own server, and t.Cleanup stops it (the whole
// process group, SIGTERM then SIGKILL). Servers are not shared: measured
// here, fakesnow answers about 0.6 s after it starts and moto about 0.4 s
// (up to 1 s on a busy machine), cheap enough to give each test a clean
// server instead of state that leaks from one test to the next. A test that wants several subtests on one
// server starts it once and hands it down.
//
// Known differences of fakesnow from Snowflake that show up in the logs:
// gosnowflake posts telemetry to /telemetry/send after queries, fakesnow
// answers 404, and gosnowflake logs that as an error ("non-successful
// response from telemetry server: 404") and stops sending telemetry for the
// connection. It is noise, not a failure; FakesnowServer.DSN adds
// disableTelemetry=true so the driver does not try. The DSN's insecureMode
// is accepted by gosnowflake v1.19.1 and only logs a deprecation warning at
// a level below its default.
package standin
