package snowflake

import sf "github.com/snowflakedb/gosnowflake"

// QuietDriverLogs limits gosnowflake's own logger, which is global to the
// program, to fatal messages. Against fakesnow it otherwise logs, as errors,
// the 404 of its telemetry endpoint and each failed statement (which retl
// already returns as an error).
func QuietDriverLogs() {
	_ = sf.GetLogger().SetLogLevel("fatal")
}
