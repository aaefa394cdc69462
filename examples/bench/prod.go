package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/internal/snowchunk"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/source/snowflake"
)

// The production path: a fakesnow table of N rows read by the snowflake
// source, mapped, upserted into the emulator (its own process), with the
// outcomes and the change-detection state written back to fakesnow.

// fakesnowProc is a fakesnow server started for the benchmark.
type fakesnowProc struct {
	cmd  *exec.Cmd
	port int
}

func startFakesnow(root string) (*fakesnowProc, error) {
	bin := filepath.Join(root, ".venv", "bin", "fakesnow")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("fakesnow"); err != nil {
			return nil, fmt.Errorf("fakesnow is not installed (make standins): %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-s", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakesnowProc{cmd: cmd, port: port}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return f, nil
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, fmt.Errorf("fakesnow did not answer on port %d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fakesnowProc) stop() {
	_ = f.cmd.Process.Kill()
	_ = f.cmd.Wait()
}

func (f *fakesnowProc) dsn(db, schema string) string {
	return fmt.Sprintf("fake:snow@127.0.0.1:%d/%s/%s?account=fakesnow&protocol=http&insecureMode=true&disableTelemetry=true", f.port, db, schema)
}

// fill creates BENCH.SRC.ACCOUNTS with n rows of the synthetic bench's
// values, loaded by PUT and COPY.
func (f *fakesnowProc) fill(ctx context.Context, n int) (*sql.DB, error) {
	setup, err := sql.Open("snowflake", f.dsn("", ""))
	if err != nil {
		return nil, err
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS BENCH", "CREATE SCHEMA IF NOT EXISTS BENCH.SRC"} {
		if _, err := setup.ExecContext(ctx, q); err != nil {
			setup.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	setup.Close()
	db, err := sql.Open("snowflake", f.dsn("BENCH", "SRC"))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	g := &genSource{rows: n, prefix: "P"}
	row := make([]any, len(columns))
	var line []byte
	for i := range n {
		line = g.row(i, row, line[:0])
		cells := make([]string, len(row))
		for j, v := range row {
			switch x := v.(type) {
			case nil:
			case time.Time:
				cells[j] = x.Format("2006-01-02 15:04:05")
			default:
				cells[j] = fmt.Sprint(x)
			}
		}
		fmt.Fprintln(zw, strings.Join(cells, "|"))
	}
	if err := zw.Close(); err != nil {
		db.Close()
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	defer conn.Close()
	for _, q := range []string{
		"CREATE OR REPLACE TABLE ACCOUNTS (ACCOUNT_ID VARCHAR, NAME VARCHAR, INDUSTRY VARCHAR, EMPLOYEES NUMBER(38,0), ARR NUMBER(18,2), SIGNED_UP_AT TIMESTAMP_NTZ, RENEWAL_DATE DATE, CHURN_NOTE VARCHAR)",
		"CREATE STAGE IF NOT EXISTS BENCH.SRC.BENCH_LOAD",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	put := "PUT file:///accounts.csv.gz @BENCH.SRC.BENCH_LOAD/accounts/ AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE"
	if _, err := conn.ExecContext(sf.WithFileStream(ctx, &buf), put); err != nil {
		db.Close()
		return nil, fmt.Errorf("uploading the rows: %w", err)
	}
	cp := "COPY INTO ACCOUNTS FROM @BENCH.SRC.BENCH_LOAD/accounts/ FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = '|' COMPRESSION = GZIP) PURGE = TRUE"
	if _, err := conn.ExecContext(ctx, cp); err != nil {
		db.Close()
		return nil, fmt.Errorf("loading the rows: %w", err)
	}
	return db, nil
}

// prodProject is the project file of the production path: the emulator,
// fakesnow and, with writeback, retl's tables in BENCH.RETL.
func prodProject(url string, port int, writeback bool) string {
	p := string(projectYAML(url)) + fmt.Sprintf(`  wh:
    type: snowflake
    account: fakesnow
    user: fake
    password: snow-password
    host: 127.0.0.1
    port: %d
    protocol: http
    insecure_mode: true
    database: BENCH
    schema: SRC
`, port)
	if writeback {
		p += "writeback: {connection: wh}\n"
	}
	return p
}

// prodSync is the sync of the production path; with change detection
// keyed by ACCOUNT_ID; setIfEmpty makes Industry set_if_empty.
func prodSync(name string, changeDetection, setIfEmpty bool) string {
	industry := "{from: INDUSTRY,     to: Industry}"
	if setIfEmpty {
		industry = "{from: INDUSTRY,     to: Industry, set_if_empty: true}"
	}
	s := fmt.Sprintf(`name: %s
source:
  type: snowflake
  connection: wh
  query: select * from ACCOUNTS
destination:
  type: salesforce
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
mapping:
  - {from: ACCOUNT_ID,   to: External_Id__c}
  - {from: NAME,         to: Name}
  - %s
  - {from: EMPLOYEES,    to: NumberOfEmployees, type: integer}
  - {from: ARR,          to: ARR__c, type: number}
  - {from: SIGNED_UP_AT, to: Signed_Up__c}
  - {from: RENEWAL_DATE, to: Renewal_Date__c, type: date}
  - {from: CHURN_NOTE,   to: Description}
`, name, industry)
	if changeDetection {
		s += "key: ACCOUNT_ID\nchange_detection: true\n"
	}
	return s
}

// runProdWorker runs one sync of the production path in this process.
func runProdWorker(ctx context.Context, j job) (*reverseetl.Report, state.Stats, error) {
	snowflake.QuietDriverLogs()
	p, err := config.Parse(ctx, "retl.yaml", []byte(j.Project), map[string][]byte{"sync.yaml": []byte(j.Sync)})
	if err != nil {
		return nil, state.Stats{}, err
	}
	reg := reverseetl.NewRegistry()
	snowflake.Register(reg)
	registerSinks(reg)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []reverseetl.Option{reverseetl.WithLogger(log)}
	st, err := state.Open(p)
	if err != nil {
		return nil, state.Stats{}, err
	}
	if st != nil {
		defer st.Close()
		runID := reverseetl.NewRunID()
		wb := st.Writeback(runID)
		if err := wb.Prepare(ctx); err != nil {
			return nil, state.Stats{}, err
		}
		opts = append(opts, reverseetl.WithRunID(runID), reverseetl.WithState(st), reverseetl.WithObserver(wb))
	}
	rep, err := reverseetl.New(reg, opts...).Run(ctx, p, reverseetl.RunOptions{})
	var stats state.Stats
	if st != nil {
		stats = st.Stats()
	}
	return rep, stats, err
}

// stageProfiles gives each stage's worker profile files of its own: the
// names in BENCH_CPUPROFILE and BENCH_MEMPROFILE get ".stageN".
func stageProfiles(env []string, stage int) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "BENCH_CPUPROFILE" || k == "BENCH_MEMPROFILE") && v != "" {
			kv = k + "=" + v + ".stage" + strconv.Itoa(stage)
		}
		out[i] = kv
	}
	return out
}

// prodStage is one measured run of the production path.
type prodStage struct {
	Name       string  `json:"stage"`
	Rows       int     `json:"rows"`
	Sent       int64   `json:"sent"`
	Wall       float64 `json:"wall_s"`
	CPU        float64 `json:"cpu_s"`
	PeakRSS    uint64  `json:"peak_rss_bytes"`
	PeakHeap   uint64  `json:"peak_heap_bytes"`
	Statements int64   `json:"warehouse_statements"`
	WhBytes    int64   `json:"warehouse_bytes"`
	WhBusy     float64 `json:"warehouse_busy_s"`
	Calls      int     `json:"api_calls"`
	// Answers are the bytes of fakesnow's answers to the worker's queries,
	// as fakesnow sent them (whole, before any cutting into chunks).
	Answers int64 `json:"answer_bytes"`
}

// runProd measures the production path for each row count; only, when not
// empty, names the stages (from 1) to run besides the first.
func runProd(self, root, emuBin, schema string, rows, only []int, chunkMB int, memLimit string, stdout, stderr io.Writer) error {
	ctx := context.Background()
	snowflake.QuietDriverLogs()
	fmt.Fprintf(stdout, "retl production path: fakesnow → mapping → emulator → writeback; %s, %d CPUs\n\n", goVersion(), numCPU())
	if chunkMB > 0 {
		fmt.Fprintf(stdout, "query results reach retl in chunks of about %d MB, as Snowflake sends large results (fakesnow sends them whole)\n\n", chunkMB)
	} else {
		fmt.Fprintln(stdout, "query results reach retl whole, inline, as fakesnow sends them")
		fmt.Fprintln(stdout)
	}
	if memLimit != "" {
		fmt.Fprintf(stdout, "the retl workers run with GOMEMLIMIT=%s\n\n", memLimit)
	}
	fmt.Fprintln(stdout, "| rows | stage | sent | wall s | CPU s | peak heap MB | peak RSS MB | warehouse statements | warehouse s | warehouse MB | query answers MB | API calls | wall / no writeback | CPU / no writeback |")
	fmt.Fprintln(stdout, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range rows {
		fs, err := startFakesnow(root)
		if err != nil {
			return err
		}
		err = func() error {
			defer fs.stop()
			db, err := fs.fill(ctx, n)
			if err != nil {
				return err
			}
			defer db.Close()
			emu, err := startEmulator(emuBin, schema)
			if err != nil {
				return err
			}
			defer emu.stop()
			px, err := startAnswerProxy(fs.port, chunkMB<<20)
			if err != nil {
				return err
			}
			defer px.stop()
			stages := []struct {
				name      string
				before    string
				sync      string
				writeback bool
			}{
				{"no writeback", "", prodSync("accounts", false, false), false},
				{"change detection, first run", "", prodSync("accounts", true, false), true},
				{"unchanged rerun", "", prodSync("accounts", true, false), true},
				{"1 % changed", "UPDATE ACCOUNTS SET NAME = NAME || ' b' WHERE MOD(EMPLOYEES, 100) = 0", prodSync("accounts", true, false), true},
				{"first run, one set_if_empty field", "", prodSync("accounts_sie", true, true), true},
			}
			var base prodStage
			for i, s := range stages {
				if i > 0 && len(only) > 0 && !slices.Contains(only, i+1) {
					continue
				}
				if s.before != "" {
					if _, err := db.ExecContext(ctx, s.before); err != nil {
						return fmt.Errorf("%s: %w", s.before, err)
					}
				}
				calls, err := emu.apiCalls()
				if err != nil {
					return err
				}
				answered := px.split.InlineBytes()
				spec, _ := json.Marshal(job{Project: prodProject(emu.url, px.port, s.writeback), Sync: s.sync})
				cmd := exec.Command(self, "-worker", string(spec))
				cmd.Env = stageProfiles(os.Environ(), i+1)
				if memLimit != "" {
					cmd.Env = append(cmd.Env, "GOMEMLIMIT="+memLimit)
				}
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				var w workerResult
				if err := json.Unmarshal(out.Bytes(), &w); err != nil {
					return fmt.Errorf("worker answered %q: %w", out.String(), err)
				}
				if w.Error != "" {
					return fmt.Errorf("%s: %s", s.name, w.Error)
				}
				after, err := emu.apiCalls()
				if err != nil {
					return err
				}
				m := prodStage{Name: s.name, Rows: n, Sent: w.Written, Wall: w.Wall, CPU: w.User + w.Sys, PeakRSS: w.PeakRSS, PeakHeap: w.PeakHeap,
					Statements: w.Statements, WhBytes: w.WhBytes, WhBusy: w.WhBusy, Calls: after - calls, Answers: px.split.InlineBytes() - answered}
				if i == 0 {
					base = m
				}
				fmt.Fprintf(stdout, "| %d | %s | %d | %.2f | %.2f | %.0f | %.0f | %d | %.2f | %.2f | %.1f | %d | %.2f | %.2f |\n", n, m.Name, m.Sent, m.Wall, m.CPU,
					mb(m.PeakHeap), mb(m.PeakRSS), m.Statements, m.WhBusy, float64(m.WhBytes)/1e6, float64(m.Answers)/1e6, m.Calls, m.Wall/base.Wall, m.CPU/base.CPU)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "\nwarehouse statements, s and MB are the writeback's (the source query is one more statement; s is the time its statements took); sent counts rows written to Salesforce")
	return nil
}

// answerProxy stands between the workers and fakesnow. It counts the bytes
// of fakesnow's answers to queries and, with chunk bytes above 0, cuts each
// large result into chunks the workers download from it, as Snowflake
// sends large results (fakesnow sends every result whole, inline). It runs
// in the benchmark's own process, so its work is not the worker's.
type answerProxy struct {
	srv   *http.Server
	split *snowchunk.Splitter
	port  int
	dir   string
}

const chunkPath = "/retl-chunks"

func startAnswerProxy(fakesnowPort, chunkBytes int) (*answerProxy, error) {
	dir, err := os.MkdirTemp("", "retl-chunks-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &answerProxy{port: l.Addr().(*net.TCPAddr).Port, dir: dir}
	p.split = &snowchunk.Splitter{Bytes: chunkBytes, Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d%s", p.port, chunkPath)}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(fakesnowPort))}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = p.split
	mux := http.NewServeMux()
	mux.Handle(chunkPath+"/", http.StripPrefix(chunkPath, http.FileServer(http.Dir(dir))))
	mux.Handle("/", rp)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

func (p *answerProxy) stop() {
	_ = p.srv.Close()
	os.RemoveAll(p.dir)
}
