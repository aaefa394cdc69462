package state

// SetSpoolBytes sets the size at which a load file is loaded while a sync
// runs, and returns what puts it back.
func SetSpoolBytes(n int64) (restore func()) {
	old := spoolBytes
	spoolBytes = n
	return func() { spoolBytes = old }
}
