package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpoint stores what it is posted, by key.
type endpoint struct {
	mu   sync.Mutex
	got  map[string]map[string]any
	hits int
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Records []struct {
			Key    string         `json:"key"`
			Fields map[string]any `json:"fields"`
		} `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hits++
	var out []map[string]any
	for _, rec := range in.Records {
		_, had := e.got[rec.Key]
		e.got[rec.Key] = rec.Fields
		out = append(out, map[string]any{"id": "p-" + rec.Key, "created": !had})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"results": out})
}

func warehouse(t *testing.T) string {
	dsn := "file:" + filepath.Join(t.TempDir(), "people.db")
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{
		"create table people (person_id text, full_name text, email text)",
		"insert into people values ('P1', 'Ada Lovelace', 'ada@example.com'), ('P2', 'Alan Turing', null), ('P3', 'Grace Hopper', 'grace@example.com')",
	} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	return dsn
}

// The example's sync file, with no Salesforce key, runs from the files
// to the endpoint: every row posted by its key, in batches of two.
func TestSyncFileToWebhook(t *testing.T) {
	ep := &endpoint{got: map[string]map[string]any{}}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	t.Setenv("PEOPLE_DSN", warehouse(t))
	t.Setenv("PEOPLE_WEBHOOK_URL", srv.URL)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--configs", "configs"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Regexp(t, `(?m)^people\s+succeeded\s+3\s+3\s`, stdout.String())
	assert.Equal(t, map[string]map[string]any{
		"P1": {"External_Id": "P1", "Name": "Ada Lovelace", "Email": "ada@example.com"},
		"P2": {"External_Id": "P2", "Name": "Alan Turing", "Email": nil},
		"P3": {"External_Id": "P3", "Name": "Grace Hopper", "Email": "grace@example.com"},
	}, ep.got)
	assert.Equal(t, 2, ep.hits, "batch_size: 2")

	// Again: the endpoint already holds every key.
	stdout.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"--configs", "configs"}, &stdout, &stderr), stderr.String())
	assert.Regexp(t, `(?m)^people\s+succeeded\s+3\s+0\s+3\s`, stdout.String())
}

// A mistake in the webhook's own keys is reported at its file and line,
// with a suggestion, before anything runs.
func TestInvalidSyncFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "configs"), 0o700))
	b, err := os.ReadFile(filepath.Join("configs", "people.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "configs", "people.yaml"), []byte(strings.Replace(string(b), "key_field:", "key_fild:", 1)), 0o600))
	p, err := os.ReadFile("retl.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), p, 0o600))
	t.Setenv("PEOPLE_DSN", "file:unused.db")
	t.Setenv("PEOPLE_WEBHOOK_URL", "https://hooks.example.com/people")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--configs", filepath.Join(dir, "configs")}, &stdout, &stderr)
	assert.Equal(t, 2, code)
	assert.Regexp(t, `^.*/configs/people\.yaml:10:3: key "destination\.key_fild": unknown key; did you mean "key_field"\?\n$`, stderr.String())
	assert.Empty(t, stdout.String())
}
