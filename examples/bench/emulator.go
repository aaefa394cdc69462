package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// emulator is examples/sfemulator running as a child process, so that its
// CPU and memory are not counted as the client's.
type emulator struct {
	cmd *exec.Cmd
	url string
}

// buildEmulator builds examples/sfemulator into dir.
func buildEmulator(root, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "sfemulator")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/sfemulator")
	cmd.Dir = root
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the emulator: %w", err)
	}
	return bin, nil
}

func startEmulator(bin, schema string) (*emulator, error) {
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--schema", schema)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "sfemulator listening on ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the emulator did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return &emulator{cmd: cmd, url: url}, nil
}

func (e *emulator) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
}

func (e *emulator) cpu() float64 { return procCPU(e.cmd.Process.Pid) }

func (e *emulator) get(path string, v any) error {
	resp, err := http.Get(e.url + "/__sftest/" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /__sftest/%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (e *emulator) apiCalls() (int, error) {
	var v struct {
		APICalls int `json:"apiCalls"`
	}
	err := e.get("api-calls", &v)
	return v.APICalls, err
}

type jobInfo struct {
	ID                     string `json:"id"`
	State                  string `json:"state"`
	NumberRecordsProcessed int    `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int    `json:"numberRecordsFailed"`
	SystemModstamp         string `json:"systemModstamp"`
	TotalProcessingTime    int64  `json:"totalProcessingTime"`
}

func (e *emulator) jobs() (map[string]jobInfo, error) {
	var list []jobInfo
	if err := e.get("jobs", &list); err != nil {
		return nil, err
	}
	out := make(map[string]jobInfo, len(list))
	for _, j := range list {
		out[j.ID] = j
	}
	return out, nil
}

// processing sums what the emulator reports for the jobs created since
// before: the time during which at least one of them was being processed
// (jobs in flight together overlap), and the sum of their own times.
func processing(before, after map[string]jobInfo) (busy, sum time.Duration, rows int, err error) {
	type span struct{ from, to time.Time }
	var spans []span
	for id, j := range after {
		if _, old := before[id]; old {
			continue
		}
		if j.State != "JobComplete" {
			return 0, 0, 0, fmt.Errorf("job %s ended %s", id, j.State)
		}
		end, perr := time.Parse("2006-01-02T15:04:05.000-0700", j.SystemModstamp)
		if perr != nil {
			return 0, 0, 0, perr
		}
		d := time.Duration(j.TotalProcessingTime) * time.Millisecond
		spans = append(spans, span{end.Add(-d), end})
		sum += d
		rows += j.NumberRecordsProcessed
	}
	if len(spans) == 0 {
		return 0, 0, 0, errors.New("no job was created")
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from.Before(spans[b].from) })
	cur := spans[0]
	for _, s := range spans[1:] {
		if s.from.After(cur.to) {
			busy += cur.to.Sub(cur.from)
			cur = s
			continue
		}
		if s.to.After(cur.to) {
			cur.to = s.to
		}
	}
	busy += cur.to.Sub(cur.from)
	return busy, sum, rows, nil
}
