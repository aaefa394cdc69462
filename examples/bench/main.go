// Command bench measures retl end to end against the Salesforce emulator,
// side by side with a peer loader (jsforce 3.10.14) on the same emulator:
//
//	go run ./examples/bench                         # quick: Bulk 100k, REST 10k
//	go run ./examples/bench --rows 100000,1000000,5000000 --rest-rows 10000,100000 --repeat 3
//
// The emulator (examples/sfemulator) is built and run as a child process,
// and each retl load runs in a child process of its own through the
// Engine, so every figure is one client's: rows per second, CPU seconds
// (getrusage), peak heap (runtime/metrics, sampled), peak RSS (VmHWM),
// bytes sent (write system calls, sockets included) and API calls (the
// emulator's count). The emulator's own processing time for the load's
// jobs (totalProcessingTime) gives the ratio of the run's wall time to it.
//
// jsforce loads the same mapped rows from a CSV file (Bulk API 2.0,
// loadAndWaitForResults) or a JSON file (REST, sObject Collections upsert)
// through examples/bench/jsforce, with the jsforce that `make standins`
// installs in sink/salesforce/sftest/jsforcecheck.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

//go:embed schema.yaml
var schemaYAML []byte

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-worker" {
		if err := runWorker(os.Args[2], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	bulkRows, restRows []int
	repeat             int
	peer               bool
	jsPoll             int
	perFile            int
	jsonOut            string
	keep               bool
	dest               string
}

func parseRows(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ReplaceAll(strings.TrimSpace(f), "_", "")
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("row count %q: want a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// run measures the loads args ask for; the tables go to stdout, progress
// and the children's messages to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	var o options
	flag := flag.NewFlagSet("bench", flag.ContinueOnError)
	flag.SetOutput(stderr)
	bulk := flag.String("rows", "100000", "Bulk API 2.0 loads: row counts, comma separated (e.g. 100000,1000000,5000000)")
	rest := flag.String("rest-rows", "10000", "REST loads: row counts, comma separated (e.g. 10000,100000); empty for none")
	flag.IntVar(&o.repeat, "repeat", 1, "runs of each load; figures are medians with the range")
	flag.BoolVar(&o.peer, "peer", true, "also run jsforce on the same rows")
	flag.IntVar(&o.jsPoll, "jsforce-poll", 1000, "jsforce Bulk poll interval in ms (1000 is its default)")
	flag.IntVar(&o.perFile, "peer-job-rows", 1_000_000, "rows per jsforce Bulk job (one upload must stay under the emulator's 150 MiB)")
	flag.StringVar(&o.jsonOut, "json", "", "also write every measurement to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (peer input files)")
	prod := flag.String("prod-rows", "", "run the production path instead (fakesnow table → mapping → emulator → writeback with change detection): row counts, comma separated")
	chunkMB := flag.Int("prod-chunk-mb", 16, "with --prod-rows, cut each query result on its way from fakesnow into chunks of about this many MB of Arrow, as Snowflake sends large results (its chunks grow to about 16 MB); 0 leaves fakesnow's whole inline answers")
	workerLimit := flag.String("prod-worker-gomemlimit", "", "with --prod-rows, GOMEMLIMIT for the retl workers only (e.g. 150MiB), not for fakesnow's proxy or the emulator")
	prodStages := flag.String("prod-stages", "", "with --prod-rows, only these stages (1-5, comma separated; stage 1, the sync without writeback, always runs as the base of the ratios)")
	flag.StringVar(&o.dest, "dest", "", "extra keys for retl's destination section, e.g. \"bulk_batch_size: 50000, max_jobs_in_flight: 3\"")
	if err := flag.Parse(args); err != nil {
		return err
	}
	var err error
	if o.bulkRows, err = parseRows(*bulk); err != nil {
		return err
	}
	if o.restRows, err = parseRows(*rest); err != nil {
		return err
	}
	if o.repeat < 1 {
		return errors.New("--repeat must be at least 1")
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "retl-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "bench: files in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	schema := filepath.Join(dir, "schema.yaml")
	if err := os.WriteFile(schema, schemaYAML, 0o644); err != nil {
		return err
	}
	emuBin, err := buildEmulator(root, dir, stderr)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *prod != "" {
		n, err := parseRows(*prod)
		if err != nil {
			return err
		}
		only, err := parseRows(*prodStages)
		if err != nil {
			return err
		}
		return runProd(self, root, emuBin, schema, n, only, *chunkMB, *workerLimit, stdout, stderr)
	}
	var peer *jsforce
	var gosf *gosfPeer
	if o.peer {
		if peer, err = findJSForce(root, o.jsPoll); err != nil {
			fmt.Fprintln(stderr, "bench: no peer:", err)
		}
		if gosf, err = buildGoSalesforce(root, dir, stderr); err != nil {
			fmt.Fprintln(stderr, "bench: no go-salesforce peer:", err)
		}
	}
	fmt.Fprintf(stdout, "retl bench: %s, GOMAXPROCS=%s, %d CPUs; repeat %d\n", goVersion(), envOr("GOMAXPROCS", "default"), numCPU(), o.repeat)

	var all []measurement
	for _, load := range []struct {
		api  string
		rows []int
	}{{"bulk", o.bulkRows}, {"rest", o.restRows}} {
		for _, n := range load.rows {
			var files []string
			if peer != nil || (gosf != nil && load.api == "bulk") {
				files, _, err = writePeerInput(context.Background(), dir, load.api, n, o.perFile, "J")
				if err != nil {
					return fmt.Errorf("writing the peer's input: %w", err)
				}
			}
			for r := range o.repeat {
				emu, err := startEmulator(emuBin, schema)
				if err != nil {
					return err
				}
				retl := func() error {
					m, err := runRetl(self, emu, load.api, n, o.dest, stderr)
					if err != nil {
						return err
					}
					m.Rep = r
					all = append(all, m)
					report(stderr, m)
					return nil
				}
				js := func() error {
					if peer == nil {
						return nil
					}
					m, err := peer.run(emu, load.api, n, files, stderr)
					if err != nil {
						return err
					}
					m.Rep = r
					all = append(all, m)
					report(stderr, m)
					return nil
				}
				gs := func() error {
					if gosf == nil || load.api != "bulk" {
						return nil
					}
					m, err := gosf.run(emu, n, files, stderr)
					if err != nil {
						return err
					}
					m.Rep = r
					all = append(all, m)
					report(stderr, m)
					return nil
				}
				// Rotate which goes first, so that none always meets an
				// emptier org.
				order := []func() error{retl, js, gs}
				for i := range order {
					if err == nil {
						err = order[(i+r)%len(order)]()
					}
				}
				emu.stop()
				if err != nil {
					return err
				}
			}
			for _, f := range files {
				os.Remove(f)
			}
		}
	}
	fmt.Fprintln(stdout)
	printTables(stdout, all, o)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// measurement is one load by one tool.
type measurement struct {
	Tool     string  `json:"tool"`
	API      string  `json:"api"`
	Rows     int     `json:"rows"`
	Rep      int     `json:"rep"`
	Wall     float64 `json:"wall_s"`
	CPU      float64 `json:"cpu_s"`
	PeakHeap uint64  `json:"peak_heap_bytes,omitempty"`
	PeakRSS  uint64  `json:"peak_rss_bytes"`
	BytesUp  uint64  `json:"bytes_up"`
	Calls    int     `json:"api_calls"`
	Jobs     int     `json:"jobs"`
	EmuBusy  float64 `json:"emulator_busy_s"`
	EmuSum   float64 `json:"emulator_job_sum_s"`
	EmuCPU   float64 `json:"emulator_cpu_s"`
}

func (m measurement) rowsPerSec() float64 { return float64(m.Rows) / m.Wall }

// around measures the emulator's side of one load.
type around struct {
	emu   *emulator
	calls int
	jobs  map[string]jobInfo
	cpu   float64
}

func before(emu *emulator) (*around, error) {
	a := &around{emu: emu, cpu: emu.cpu()}
	var err error
	if a.calls, err = emu.apiCalls(); err != nil {
		return nil, err
	}
	a.jobs, err = emu.jobs()
	return a, err
}

func (a *around) after(m *measurement) error {
	calls, err := a.emu.apiCalls()
	if err != nil {
		return err
	}
	m.Calls = calls - a.calls
	m.EmuCPU = a.emu.cpu() - a.cpu
	if m.API != "bulk" {
		return nil
	}
	jobs, err := a.emu.jobs()
	if err != nil {
		return err
	}
	busy, sum, rows, err := processing(a.jobs, jobs)
	if err != nil {
		return err
	}
	if rows != m.Rows {
		return fmt.Errorf("%s: the jobs processed %d rows, not %d", m.Tool, rows, m.Rows)
	}
	m.Jobs = len(jobs) - len(a.jobs)
	m.EmuBusy, m.EmuSum = busy.Seconds(), sum.Seconds()
	return nil
}

func runRetl(self string, emu *emulator, api string, rows int, dest string, stderr io.Writer) (measurement, error) {
	m := measurement{Tool: "retl", API: api, Rows: rows}
	a, err := before(emu)
	if err != nil {
		return m, err
	}
	spec, _ := json.Marshal(job{URL: emu.url, API: api, Rows: rows, Prefix: "R", Dest: dest})
	cmd := exec.Command(self, "-worker", string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return m, fmt.Errorf("retl %s %d rows: %w", api, rows, err)
	}
	var w workerResult
	if err := json.Unmarshal(out.Bytes(), &w); err != nil {
		return m, fmt.Errorf("retl worker answered %q: %w", out.String(), err)
	}
	if w.Error != "" || w.Written != int64(rows) {
		return m, fmt.Errorf("retl %s %d rows: %d written, %d failed: %s", api, rows, w.Written, w.Failed, w.Error)
	}
	m.Wall, m.CPU = w.Wall, w.User+w.Sys
	m.PeakHeap, m.PeakRSS, m.BytesUp = w.PeakHeap, w.PeakRSS, w.Wchar
	if err := a.after(&m); err != nil {
		return m, err
	}
	if m.API == "bulk" && m.Jobs != len(w.Jobs) {
		return m, fmt.Errorf("retl reported %d jobs, the emulator saw %d", len(w.Jobs), m.Jobs)
	}
	return m, nil
}

// jsforce runs examples/bench/jsforce/load.cjs with the jsforce install of
// sink/salesforce/sftest/jsforcecheck.
type jsforce struct {
	node, script, modules string
	poll                  int
}

func findJSForce(root string, poll int) (*jsforce, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH")
	}
	mods := filepath.Join(root, "sink", "salesforce", "sftest", "jsforcecheck", "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "jsforce")); err != nil {
		return nil, fmt.Errorf("jsforce is not installed in %s: run make standins", mods)
	}
	return &jsforce{node: node, script: filepath.Join(root, "examples", "bench", "jsforce", "load.cjs"), modules: mods, poll: poll}, nil
}

func (j *jsforce) run(emu *emulator, api string, rows int, files []string, stderr io.Writer) (measurement, error) {
	m := measurement{Tool: "jsforce", API: api, Rows: rows}
	a, err := before(emu)
	if err != nil {
		return m, err
	}
	args := append([]string{j.script, emu.url, api, strconv.Itoa(j.poll)}, files...)
	cmd := exec.Command(j.node, args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+j.modules)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return m, fmt.Errorf("jsforce %s %d rows: %w", api, rows, err)
	}
	var r struct {
		Wall   float64 `json:"wall"`
		OK     int     `json:"ok"`
		Failed int     `json:"failed"`
		Wchar  uint64  `json:"wchar"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return m, fmt.Errorf("jsforce answered %q: %w", out.String(), err)
	}
	if r.OK != rows {
		return m, fmt.Errorf("jsforce %s %d rows: %d written, %d failed", api, rows, r.OK, r.Failed)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	m.Wall, m.CPU = r.Wall, tv(ru.Utime)+tv(ru.Stime)
	m.PeakRSS, m.BytesUp = uint64(ru.Maxrss)<<10, r.Wchar
	return m, a.after(&m)
}

func report(w io.Writer, m measurement) {
	fmt.Fprintf(w, "bench: %-7s %-4s %9d rows  %6.2fs  %9.0f rows/s  cpu %6.2fs  rss %5.0f MB  calls %d",
		m.Tool, m.API, m.Rows, m.Wall, m.rowsPerSec(), m.CPU, mb(m.PeakRSS), m.Calls)
	if m.EmuBusy > 0 {
		fmt.Fprintf(w, "  emulator %.2fs (wall/emulator %.2f)", m.EmuBusy, m.Wall/m.EmuBusy)
	}
	fmt.Fprintln(w)
}

func mb(b uint64) float64 { return float64(b) / 1e6 }

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run bench from inside the retl module")
	}
	return filepath.Dir(mod), nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// median returns the middle value and the range of the values f takes.
func median(ms []measurement, f func(measurement) float64) (mid, lo, hi float64) {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	slices.Sort(v)
	n := len(v)
	mid = v[n/2]
	if n%2 == 0 {
		mid = (v[n/2-1] + v[n/2]) / 2
	}
	return mid, v[0], v[n-1]
}
