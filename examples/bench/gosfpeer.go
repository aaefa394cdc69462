package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"syscall"
)

// gosfPeer runs go-salesforce v3's UpsertBulk (examples/bench/gosf, a
// module of its own) on the CSV files written for jsforce.
type gosfPeer struct{ bin string }

// buildGoSalesforce builds the peer from its module; the Go module cache
// must hold go-salesforce (make standins puts it there).
func buildGoSalesforce(root, dir string, stderr io.Writer) (*gosfPeer, error) {
	bin := filepath.Join(dir, "gosf")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(root, "examples", "bench", "gosf")
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building the go-salesforce peer: %w", err)
	}
	return &gosfPeer{bin: bin}, nil
}

func (p *gosfPeer) run(emu *emulator, rows int, files []string, stderr io.Writer) (measurement, error) {
	m := measurement{Tool: "go-salesforce", API: "bulk", Rows: rows}
	a, err := before(emu)
	if err != nil {
		return m, err
	}
	cmd := exec.Command(p.bin, append([]string{emu.url}, files...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return m, fmt.Errorf("go-salesforce %d rows: %w", rows, err)
	}
	var r struct {
		Wall   float64 `json:"wall"`
		OK     int     `json:"ok"`
		Failed int     `json:"failed"`
		Wchar  uint64  `json:"wchar"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return m, fmt.Errorf("go-salesforce answered %q: %w", out.String(), err)
	}
	if r.OK != rows {
		return m, fmt.Errorf("go-salesforce %d rows: %d written, %d failed", rows, r.OK, r.Failed)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	m.Wall, m.CPU = r.Wall, tv(ru.Utime)+tv(ru.Stime)
	m.PeakRSS, m.BytesUp = uint64(ru.Maxrss)<<10, r.Wchar
	return m, a.after(&m)
}
