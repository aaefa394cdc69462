package config

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validSync is a sync that loads; cases change one thing in it.
const validSync = `source:
  type: snowflake
  query: select 1
destination:
  type: salesforce
  object: Account
  operation: upsert
  match_on: Ext__c
mapping:
  - {from: ID, to: Ext__c}
  - {from: NAME, to: Name}
`

// loadErrors loads the files (a project file when project is not empty) and
// returns the error's lines.
func loadErrors(t *testing.T, project string, syncs map[string]string, opts ...Option) []string {
	t.Helper()
	in := map[string][]byte{}
	for k, v := range syncs {
		in[k] = []byte(v)
	}
	var projectFile string
	var projectData []byte
	if project != "" {
		projectFile, projectData = "retl.yaml", []byte(project)
	}
	p, err := Parse(context.Background(), projectFile, projectData, in, opts...)
	if err == nil {
		require.NotNil(t, p)
		return nil
	}
	assert.Nil(t, p)
	var errs Errors
	require.ErrorAs(t, err, &errs, "%v", err)
	var first *Error
	require.ErrorAs(t, err, &first)
	assert.Same(t, errs[0], first)
	return strings.Split(err.Error(), "\n")
}

func TestSyncErrors(t *testing.T) {
	tests := []struct {
		name string
		sync string
		want []string
	}{
		{
			name: "misspelled top-level key",
			sync: strings.Replace(validSync, "mapping:", "mappings:", 1),
			want: []string{`s.yaml:9:1: key "mappings": unknown key; did you mean "mapping"?`},
		},
		{
			name: "unknown top-level key",
			sync: validSync + "schedule: hourly\n",
			want: []string{`s.yaml:12:1: key "schedule": unknown key`},
		},
		{
			name: "wrong type",
			sync: validSync + "records_per_write: lots\n",
			want: []string{`s.yaml:12:20: key "records_per_write": expected an integer, got a string`},
		},
		{
			name: "batch size not positive",
			sync: validSync + "records_per_write: 0\n",
			want: []string{`s.yaml:12:20: key "records_per_write": must be greater than 0`},
		},
		{
			name: "wrong type for a bool",
			sync: validSync + "run_if_parent_failed: [1]\n",
			want: []string{`s.yaml:12:23: key "run_if_parent_failed": expected true or false, got a list`},
		},
		{
			name: "missing sections",
			sync: "name: x\n",
			want: []string{
				`s.yaml:1:1: key "source": missing required key`,
				`s.yaml:1:1: key "destination": missing required key`,
				`s.yaml:1:1: key "mapping": missing required key`,
			},
		},
		{
			name: "empty file",
			sync: "# nothing\n",
			want: []string{`s.yaml: file is empty; a sync needs source, destination and mapping`},
		},
		{
			name: "null document",
			sync: "~\n",
			want: []string{`s.yaml:1:1: expected a mapping with source, destination and mapping, got null`},
		},
		{
			name: "not a mapping",
			sync: "- a\n- b\n",
			want: []string{`s.yaml:1:1: expected a mapping, got a list`},
		},
		{
			name: "source not a mapping",
			sync: strings.Replace(validSync, "source:\n  type: snowflake\n  query: select 1\n", "source: snowflake\n", 1),
			want: []string{`s.yaml:1:9: key "source": expected a mapping, got a string`},
		},
		{
			name: "source without type",
			sync: strings.Replace(validSync, "  type: snowflake\n", "  warehouse: x\n", 1),
			want: []string{`s.yaml:1:1: key "source.type": missing required key (or name a connection, whose type then applies)`},
		},
		{
			name: "empty type",
			sync: strings.Replace(validSync, "  type: snowflake\n", "  type: \"\"\n", 1),
			want: []string{`s.yaml:2:9: key "source.type": must not be empty`},
		},
		{
			name: "duplicate YAML key",
			sync: validSync + "key: ID\nkey: NAME\n",
			want: []string{`s.yaml:13:1: key "key": duplicate key (first at line 12)`},
		},
		{
			name: "duplicate target field, in another case",
			sync: validSync + "  - {from: NAME2, to: name}\n",
			want: []string{`s.yaml:12:23: key "mapping[2].to": field name is already mapped at line 11`},
		},
		{
			name: "mapping empty",
			sync: strings.Replace(validSync, "mapping:\n  - {from: ID, to: Ext__c}\n  - {from: NAME, to: Name}\n", "mapping: []\n", 1),
			want: []string{`s.yaml:9:10: key "mapping": must list at least one field`},
		},
		{
			name: "mapping null",
			sync: strings.Replace(validSync, "mapping:\n  - {from: ID, to: Ext__c}\n  - {from: NAME, to: Name}\n", "mapping:\n", 1),
			want: []string{`s.yaml:9:1: key "mapping": must list at least one field`},
		},
		{
			name: "mapping not a list",
			sync: strings.Replace(validSync, "mapping:\n  - {from: ID, to: Ext__c}\n  - {from: NAME, to: Name}\n", "mapping: {from: ID}\n", 1),
			want: []string{`s.yaml:9:10: key "mapping": expected a list, got a mapping`},
		},
		{
			name: "mapping entry not a mapping",
			sync: validSync + "  - NAME\n",
			want: []string{`s.yaml:12:5: key "mapping[2]": expected a mapping, got a string`},
		},
		{
			name: "mapping entry null",
			sync: validSync + "  -\n",
			want: []string{`s.yaml:12:3: key "mapping[2]": expected a mapping with to and one of from, value or expr, got null`},
		},
		{
			name: "mapping entry null in flow style",
			sync: strings.Replace(validSync, "mapping:\n  - {from: ID, to: Ext__c}\n  - {from: NAME, to: Name}\n", "mapping: [null]\n", 1),
			want: []string{`s.yaml:9:11: key "mapping[0]": expected a mapping with to and one of from, value or expr, got null`},
		},
		{
			name: "mapping entry without to",
			sync: validSync + "  - {from: X}\n",
			want: []string{`s.yaml:12:5: key "mapping[2].to": missing required key`},
		},
		{
			name: "mapping entry without a source",
			sync: validSync + "  - {to: X__c, when: A}\n",
			want: []string{`s.yaml:12:5: key "mapping[2]": set one of from, value or expr`},
		},
		{
			name: "mapping entry with two sources",
			sync: validSync + "  - {to: X__c, from: A, value: 1}\n",
			want: []string{`s.yaml:12:5: key "mapping[2]": set only one of from, value and expr`},
		},
		{
			name: "mapping entry unknown key",
			sync: validSync + "  - {to: X__c, from: A, tpye: date}\n",
			want: []string{`s.yaml:12:25: key "mapping[2].tpye": unknown key; did you mean "type"?`},
		},
		{
			name: "mapping entry bad type",
			sync: validSync + "  - {to: X__c, from: A, type: money}\n",
			want: []string{`s.yaml:12:31: key "mapping[2].type": must be one of string, number, integer, boolean, date, datetime`},
		},
		{
			name: "mapping entry bad null",
			sync: validSync + "  - {to: X__c, from: A, null: skip}\n",
			want: []string{`s.yaml:12:31: key "mapping[2].null": must be clear or ignore`},
		},
		{
			name: "format without a date type",
			sync: validSync + "  - {to: X__c, from: A, format: \"2006\"}\n",
			want: []string{`s.yaml:12:33: key "mapping[2].format": format applies only to type date or datetime`},
		},
		{
			name: "truncate on a number",
			sync: validSync + "  - {to: X__c, from: A, type: number, truncate: true}\n",
			want: []string{`s.yaml:12:49: key "mapping[2].truncate": truncate applies only to text; this value has type number`},
		},
		{
			name: "keep_human_edits not a boolean",
			sync: validSync + "  - {to: X__c, from: A, keep_human_edits: sometimes}\n",
			want: []string{`s.yaml:12:43: key "mapping[2].keep_human_edits": expected true or false, got a string`},
		},
		{
			name: "truncate not a boolean",
			sync: validSync + "  - {to: X__c, from: A, truncate: yes please}\n",
			want: []string{`s.yaml:12:35: key "mapping[2].truncate": expected true or false, got a string`},
		},
		{
			name: "value not a scalar",
			sync: validSync + "  - {to: X__c, value: [1, 2]}\n",
			want: []string{`s.yaml:12:23: key "mapping[2].value": expected a string, number, boolean or null, got a list`},
		},
		{
			name: "value not finite",
			sync: validSync + "  - {to: X__c, value: .inf}\n",
			want: []string{`s.yaml:12:23: key "mapping[2].value": must be a finite number`},
		},
		{
			name: "empty from",
			sync: validSync + "  - {to: X__c, from: \"\"}\n",
			want: []string{`s.yaml:12:22: key "mapping[2].from": must not be empty`},
		},
		{
			name: "null policy",
			sync: validSync + "null_policy: keep\n",
			want: []string{`s.yaml:12:14: key "null_policy": must be clear or ignore`},
		},
		{
			name: "on_failure negative",
			sync: validSync + "on_failure: {max_failed_rows: -1, max_failed_percent: 101}\n",
			want: []string{
				`s.yaml:12:31: key "on_failure.max_failed_rows": must not be negative`,
				`s.yaml:12:55: key "on_failure.max_failed_percent": must be between 0 and 100`,
			},
		},
		{
			name: "on_failure unknown key",
			sync: validSync + "on_failure:\n  max_failed: 3\n",
			want: []string{`s.yaml:13:3: key "on_failure.max_failed": unknown key`},
		},
		{
			name: "on_failure wrong type",
			sync: validSync + "on_failure:\n  max_failed_percent: many\n",
			want: []string{`s.yaml:13:23: key "on_failure.max_failed_percent": expected a number, got a string`},
		},
		{
			name: "change_detection without key",
			sync: validSync + "change_detection: true\n",
			want: []string{`s.yaml:12:19: key "change_detection": change_detection tells rows apart by the sync's key: set key to the column that identifies a row`},
		},
		{
			name: "change_detection of the old shape",
			sync: validSync + "change_detection: {key: ID}\n",
			want: []string{`s.yaml:12:19: key "change_detection": expected true or false, got a mapping`},
		},
		{
			name: "depends_on not a list",
			sync: validSync + "depends_on: other\n",
			want: []string{`s.yaml:12:13: key "depends_on": expected a list of sync names, got a string`},
		},
		{
			name: "depends_on listed twice",
			sync: validSync + "depends_on: [s, s]\n",
			want: []string{
				`s.yaml:12:14: key "depends_on[0]": sync s depends on itself`,
				`s.yaml:12:17: key "depends_on[1]": sync "s" is already listed at depends_on[0]`,
			},
		},
		{
			name: "depends_on unknown",
			sync: validSync + "depends_on: [acounts]\n",
			want: []string{`s.yaml:12:14: key "depends_on[0]": unknown sync "acounts"`},
		},
		{
			name: "invalid name",
			sync: "name: ../../etc\n" + validSync,
			want: []string{`s.yaml:1:7: key "name": sync name may hold only letters, digits, _, - and ., must not start with - or ., and is at most 128 long`},
		},
		{
			name: "merge key",
			sync: validSync + "x: &x {a: 1}\ny:\n  <<: *x\n",
			want: []string{
				`s.yaml:12:1: key "x": unknown key`,
				`s.yaml:13:1: key "y": unknown key`,
				`s.yaml:14:3: key "y": merge keys (<<) are not supported`,
			},
		},
		{
			name: "alias to nothing",
			sync: validSync + "key: *nothing\n",
			want: []string{`s.yaml:12:6: key "key": alias *nothing refers to no anchor before it`},
		},
		{
			name: "two documents",
			sync: validSync + "---\n" + validSync,
			want: []string{`s.yaml:12:1: a file holds one YAML document; found 2`},
		},
		{
			name: "syntax",
			sync: "source: {type: x\n",
			want: []string{`s.yaml:1:9: invalid YAML: could not find flow mapping end token '}'`},
		},
		{
			name: "unquoted reference in flow style",
			sync: "source: {type: ${X}}\n",
			want: []string{`s.yaml:1:17: invalid YAML: ',' or '}' must be specified (inside [ ] or { }, quote a value that holds ${...})`},
		},
		{
			name: "source null",
			sync: strings.Replace(validSync, "source:\n  type: snowflake\n  query: select 1\n", "source:\n", 1),
			want: []string{`s.yaml:1:1: key "source.type": missing required key (or name a connection, whose type then applies)`},
		},
		{
			name: "destination null",
			sync: "destination:\n" + validSync[:strings.Index(validSync, "destination:")] + validSync[strings.Index(validSync, "mapping:"):],
			want: []string{
				`s.yaml:1:1: key "destination.type": missing required key (or name a connection, whose type then applies)`,
			},
		},
		{
			name: "destination not a mapping",
			sync: "destination: Account\n" + validSync[:strings.Index(validSync, "destination:")] + validSync[strings.Index(validSync, "mapping:"):],
			want: []string{`s.yaml:1:14: key "destination": expected a mapping, got a string`},
		},
		{
			name: "change_detection off needs no key",
			sync: validSync + "change_detection: false\n",
			want: nil,
		},
		{
			name: "depends_on empty name",
			sync: validSync + "depends_on: [\"\"]\n",
			want: []string{`s.yaml:12:14: key "depends_on[0]": must not be empty`},
		},
		{
			name: "value that is no boolean",
			sync: validSync + "  - {to: X__c, value: !!bool maybe-secret}\n",
			want: []string{`s.yaml:12:29: key "mapping[2].value": invalid value`},
		},
		{
			name: "key that is not plain",
			sync: validSync + "&k key: ID\n",
			want: []string{`s.yaml:12:1: a key must be a plain string`},
		},
		{
			name: "second document after an end marker",
			sync: validSync + "...\nname: x\n",
			want: []string{`s.yaml:13:1: a file holds one YAML document; found 2`},
		},
		{
			name: "unquoted reference in flow style, further down",
			sync: "name: x\nsource: {type: snowflake, query: ${Q}}\n",
			want: []string{`s.yaml:2:35: invalid YAML: ',' or '}' must be specified (inside [ ] or { }, quote a value that holds ${...})`},
		},
		{
			name: "not UTF-8",
			sync: "name: \xff\n",
			want: []string{`s.yaml: file is not valid UTF-8`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErrors(t, "", map[string]string{"s.yaml": tt.sync})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCrossFileErrors(t *testing.T) {
	named := func(name, extra string) string { return "name: " + name + "\n" + validSync + extra }
	tests := []struct {
		name    string
		project string
		syncs   map[string]string
		want    []string
	}{
		{
			name:  "duplicate sync names",
			syncs: map[string]string{"a.yaml": named("accounts", ""), "b.yaml": named("Accounts", "")},
			want:  []string{`b.yaml:1:7: key "name": sync name "Accounts" is already used by a.yaml`},
		},
		{
			name:  "duplicate name from a file name",
			syncs: map[string]string{"a.yaml": named("b", ""), "b.yml": validSync},
			want:  []string{`b.yml:1:1: key "name": sync name "b" is already used by a.yaml`},
		},
		{
			name:  "invalid name from a file name",
			syncs: map[string]string{"my sync.yaml": validSync},
			want:  []string{`my sync.yaml:1:1: key "name": sync name (taken from the file name) may hold only letters, digits, _, - and ., must not start with - or ., and is at most 128 long`},
		},
		{
			name: "dependency cycle",
			syncs: map[string]string{
				"a.yaml": named("a", "depends_on: [c]\n"),
				"b.yaml": named("b", "depends_on: [a]\n"),
				"c.yaml": named("c", "depends_on: [b]\n"),
			},
			want: []string{`a.yaml:13:14: key "depends_on[0]": dependency cycle: a (a.yaml) -> c (c.yaml) -> b (b.yaml) -> a (a.yaml)`},
		},
		{
			name: "dependency chain without a cycle",
			syncs: map[string]string{
				"a.yaml": named("a", "depends_on: [b, c]\n"),
				"b.yaml": named("b", "depends_on: [c]\n"),
				"c.yaml": named("c", ""),
			},
		},
		{
			name: "dependency cycle entered from outside",
			syncs: map[string]string{
				"a.yaml": named("a", "depends_on: [c]\n"),
				"b.yaml": named("b", "depends_on: [c]\n"),
				"c.yaml": named("c", "depends_on: [b]\n"),
			},
			want: []string{`b.yaml:13:14: key "depends_on[0]": dependency cycle: b (b.yaml) -> c (c.yaml) -> b (b.yaml)`},
		},
		{
			name:  "depends_on in another case",
			syncs: map[string]string{"a.yaml": named("a", "depends_on: [B]\n"), "b.yaml": named("b", "")},
			want:  []string{`a.yaml:13:14: key "depends_on[0]": unknown sync "B"; did you mean "b"?`},
		},
		{
			name:    "unknown connections",
			project: "connections:\n  wh: {type: snowflake}\n  crm: {type: salesforce}\n",
			syncs: map[string]string{"a.yaml": strings.NewReplacer(
				"  type: snowflake\n", "  type: snowflake\n  connection: warehouse\n",
				"  type: salesforce\n", "  type: salesforce\n  connection: crm\n",
			).Replace(validSync)},
			want: []string{`a.yaml:3:15: key "source.connection": unknown connection "warehouse"; retl.yaml defines crm, wh`},
		},
		{
			name:    "unknown connection with none defined",
			project: "defaults: {parallel: 2}\n",
			syncs:   map[string]string{"a.yaml": strings.Replace(validSync, "  type: salesforce\n", "  type: salesforce\n  connection: crm\n", 1)},
			want:    []string{`a.yaml:6:15: key "destination.connection": unknown connection "crm"; retl.yaml defines no connections`},
		},
		{
			name:    "connections are not checked against a broken project file",
			project: "connections: [\n",
			syncs:   map[string]string{"a.yaml": strings.Replace(validSync, "  type: salesforce\n", "  type: salesforce\n  connection: crm\n", 1)},
			want:    []string{`retl.yaml:1:14: invalid YAML: sequence end token ']' not found`},
		},
		{
			name:  "connections are not checked without a project file",
			syncs: map[string]string{"a.yaml": strings.Replace(validSync, "  type: salesforce\n", "  type: salesforce\n  connection: crm\n", 1)},
		},
		{
			name:  "errors in several files are all reported, in file order",
			syncs: map[string]string{"b.yaml": validSync + "records_per_write: x\n", "a.yaml": validSync + "filter: \"\"\n"},
			want: []string{
				`a.yaml:12:9: key "filter": must not be empty`,
				`b.yaml:12:20: key "records_per_write": expected an integer, got a string`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErrors(t, tt.project, tt.syncs)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestProjectErrors(t *testing.T) {
	tests := []struct {
		name    string
		project string
		want    []string
	}{
		{"unknown key", "conections: {}\n",
			[]string{`retl.yaml:1:1: key "conections": unknown key; did you mean "connections"?`}},
		{"connections not a mapping", "connections: [a]\n",
			[]string{`retl.yaml:1:14: key "connections": expected a mapping, got a list`}},
		{"connection without type", "connections:\n  wh:\n    account: x\n",
			[]string{`retl.yaml:2:3: key "connections.wh.type": missing required key`}},
		{"connection type misspelled", "connections:\n  wh: {tpe: snowflake}\n",
			[]string{`retl.yaml:2:8: key "connections.wh.tpe": unknown key; did you mean "type"?`}},
		{"connection name", "connections:\n  -wh: {type: snowflake}\n",
			[]string{`retl.yaml:2:3: key "connections.-wh": connection name may hold only letters, digits, _, - and ., must not start with - or ., and is at most 128 long`}},
		{"connection null", "connections:\n  wh:\n",
			[]string{`retl.yaml:2:3: key "connections.wh.type": missing required key`}},
		{"defaults", "defaults: {parallel: 0, records_per_write: -1, null_policy: x, retries: 3}\n",
			[]string{
				`retl.yaml:1:22: key "defaults.parallel": must be greater than 0`,
				`retl.yaml:1:44: key "defaults.records_per_write": must be greater than 0`,
				`retl.yaml:1:61: key "defaults.null_policy": must be clear or ignore`,
				`retl.yaml:1:64: key "defaults.retries": unknown key`,
			}},
		{"alerts", "alerts:\n  on_sync_failure: yes please\n  failed_rows_above: -1\n  sms: {}\n",
			[]string{
				`retl.yaml:2:20: key "alerts.on_sync_failure": expected true or false, got a string`,
				`retl.yaml:3:22: key "alerts.failed_rows_above": must not be negative`,
				`retl.yaml:4:3: key "alerts.sms": unknown key`,
			}},
		{"email", "connections: {wh: {type: snowflake}}\nalerts:\n  email: {connection: wh, recipients: [ops]}\n",
			[]string{
				`retl.yaml:3:3: key "alerts.email.integration": missing required key`,
				`retl.yaml:3:40: key "alerts.email.recipients[0]": must be an email address`,
			}},
		{"email without recipients", "connections: {wh: {type: snowflake}}\nalerts:\n  email: {connection: wh, integration: I, recipients: []}\n",
			[]string{`retl.yaml:3:55: key "alerts.email.recipients": must not be empty`}},
		{"email unknown key", "alerts:\n  email: {connection: wh, integration: I, recipients: [a@b.c], subject: x}\n",
			[]string{`retl.yaml:2:64: key "alerts.email.subject": unknown key`}},
		{"email with an unknown connection", "alerts:\n  email: {connection: wh, integration: I, recipients: [a@b.c]}\n",
			[]string{`retl.yaml:2:23: key "alerts.email.connection": unknown connection "wh"; retl.yaml defines no connections`}},
		{"webhook url", "alerts:\n  webhook: {url: \"hooks.slack.com/x\"}\n",
			[]string{`retl.yaml:2:18: key "alerts.webhook.url": must be an http or https URL`}},
		{"webhook without url", "alerts:\n  webhook: {}\n",
			[]string{`retl.yaml:2:3: key "alerts.webhook.url": missing required key`}},
		{"writeback", "connections: {wh: {type: snowflake}}\nwriteback: {connection: wh, results: some, retention_days: -2}\n",
			[]string{
				`retl.yaml:2:38: key "writeback.results": must be all, failed or none`,
				`retl.yaml:2:60: key "writeback.retention_days": must not be negative`,
			}},
		{"writeback without connection", "writeback: {schema: RETL}\n",
			[]string{`retl.yaml:1:1: key "writeback.connection": missing required key`}},
		{"writeback with an unknown connection", "writeback: {connection: dw}\n",
			[]string{`retl.yaml:1:25: key "writeback.connection": unknown connection "dw"; retl.yaml defines no connections`}},
		{"reports", "reports: {directory: out}\n",
			[]string{`retl.yaml:1:11: key "reports.directory": unknown key`}},
		{"secrets", "secrets: {aws: {regoin: eu-west-1}}\n",
			[]string{`retl.yaml:1:17: key "secrets.aws.regoin": unknown key; did you mean "region"?`}},
		{"connection not a mapping", "connections: {wh: [a]}\n",
			[]string{`retl.yaml:1:19: key "connections.wh": expected a mapping, got a list`}},
		{"defaults not a mapping", "defaults: 3\n",
			[]string{`retl.yaml:1:11: key "defaults": expected a mapping, got an integer`}},
		{"alerts not a mapping", "alerts: all\n",
			[]string{`retl.yaml:1:9: key "alerts": expected a mapping, got a string`}},
		{"webhook url of the wrong type", "alerts:\n  webhook: {url: [1]}\n",
			[]string{`retl.yaml:2:18: key "alerts.webhook.url": expected a string, got a list`}},
		{"writeback of the wrong type", "writeback: {connection: wh, schema: [1]}\n",
			[]string{`retl.yaml:1:37: key "writeback.schema": expected a string, got a list`}},
		{"not a mapping", "just text\n",
			[]string{`retl.yaml:1:1: expected a mapping, got a string`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErrors(t, tt.project, nil)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAliases(t *testing.T) {
	sync := `source: {type: snowflake}
destination: &dest
  type: salesforce
  object: Account
  operation: insert
  api: bulk
mapping:
  - &name {from: NAME, to: Name}
  - {from: CITY, to: BillingCity}
key: &k ID
filter: *k
`
	p, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(sync)})
	require.NoError(t, err)
	s := p.Syncs[0]
	assert.Equal(t, "ID", s.Key)
	assert.Equal(t, "ID", s.Filter)
	assert.Equal(t, []string{"object", "operation", "api"}, s.Destination.Section.Keys())
	assert.Equal(t, "Name", s.Mapping[0].To)
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Pos: Pos{File: "a.yaml", Line: 3, Col: 5}, Key: "destination.operation", Msg: "m"}, `a.yaml:3:5: key "destination.operation": m`},
		{Error{Pos: Pos{File: "a.yaml", Line: 3}, Msg: "m"}, `a.yaml:3: m`},
		{Error{Pos: Pos{File: "a.yaml"}, Msg: "m"}, `a.yaml: m`},
		{Error{Pos: Pos{Line: 2, Col: 1}, Key: "k", Msg: "m"}, `2:1: key "k": m`},
		{Error{Key: "k", Msg: "m"}, `key "k": m`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
	}
	cause := errors.New("cause")
	e := &Error{Msg: "m", Err: cause}
	assert.ErrorIs(t, Errors{e}, cause)
	assert.Equal(t, "a: x\nb: y", Errors{{Pos: Pos{File: "a"}, Msg: "x"}, {Pos: Pos{File: "b"}, Msg: "y"}}.Error())
}

func TestOptionalSectionsMayBeNull(t *testing.T) {
	project := "connections:\nalerts:\n  email:\n  webhook:\nwriteback:\ndefaults:\n  on_failure: {max_failed_percent: 2.5}\n"
	sync := validSync + "change_detection:\ndepends_on:\n"
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), map[string][]byte{"s.yaml": []byte(sync)})
	require.NoError(t, err)
	assert.Nil(t, p.Alerts.Email)
	assert.Nil(t, p.Alerts.Webhook)
	assert.Nil(t, p.Writeback)
	s := p.Syncs[0]
	assert.Nil(t, s.ChangeDetection)
	assert.Empty(t, s.DependsOn)
	require.NotNil(t, s.OnFailure.MaxFailedPercent)
	assert.Equal(t, 2.5, *s.OnFailure.MaxFailedPercent)
	assert.NotSame(t, p.Defaults.OnFailure.MaxFailedPercent, s.OnFailure.MaxFailedPercent)
}

func TestAliasesToMappings(t *testing.T) {
	project := "connections:\n  wh: &wh {type: snowflake, role: !!str 12, opts: &o {a: 1}}\n  wh2: *wh\n"
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), nil)
	require.NoError(t, err)
	var c struct {
		Role string         `yaml:"role"`
		Opts map[string]int `yaml:"opts"`
	}
	require.NoError(t, p.Connections["wh2"].Section.Decode(&c))
	assert.Equal(t, "12", c.Role)
	assert.Equal(t, map[string]int{"a": 1}, c.Opts)
}

func TestTypeNames(t *testing.T) {
	assert.Equal(t, "a value", wantName(nil))
	assert.Equal(t, "an integer", wantName(reflect.TypeFor[*int]()))
	assert.Equal(t, "a timestamp", wantName(reflect.TypeFor[time.Time]()))
	assert.Equal(t, "a mapping", wantName(reflect.TypeFor[map[string]int]()))
	assert.Equal(t, "a value", wantName(reflect.TypeFor[chan int]()))
	assert.Equal(t, "null", gotName(nil))
	assert.Equal(t, "a boolean", gotName(reflect.TypeFor[bool]()))
	for typ, want := range map[ast.NodeType]string{
		ast.FloatType: "a number", ast.BoolType: "a boolean", ast.NullType: "null", ast.AliasType: "alias",
	} {
		assert.Equal(t, want, nodeTypeName(typ))
	}
	assert.Equal(t, "null", describe(nil))
}

func TestTypeFromConnection(t *testing.T) {
	ctx := context.Background()
	project := []byte("connections:\n  warehouse: {type: sql, dsn: x}\n  crm: {type: salesforce}\n")
	sync := []byte("source:\n  connection: warehouse\n  query: select 1\ndestination:\n  connection: crm\n  object: Account\n  operation: insert\nmapping:\n  - {from: NAME, to: Name}\n")
	p, err := Parse(ctx, "retl.yaml", project, map[string][]byte{"s.yaml": sync})
	require.NoError(t, err)
	assert.Equal(t, "sql", p.Syncs[0].Source.Type)
	assert.Equal(t, "salesforce", p.Syncs[0].Destination.Type)

	// A type that is given wins over the connection's.
	given := bytes.Replace(sync, []byte("  connection: warehouse\n"), []byte("  connection: warehouse\n  type: custom_sql\n"), 1)
	p, err = Parse(ctx, "retl.yaml", project, map[string][]byte{"s.yaml": given})
	require.NoError(t, err)
	assert.Equal(t, "custom_sql", p.Syncs[0].Source.Type)

	// Without a project file the connection's type is unknown.
	_, err = Parse(ctx, "", nil, map[string][]byte{"s.yaml": sync})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `s.yaml:2:15: key "source.type": missing required key: connection "warehouse" is not defined here`)
	assert.Contains(t, err.Error(), `key "destination.type"`)
}

func TestMappingKeepHumanEdits(t *testing.T) {
	p, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(validSync +
		"  - {to: A__c, from: A, keep_human_edits: true}\n  - {to: B__c, from: B, keep_human_edits: false}\n")})
	require.NoError(t, err)
	m := p.Syncs[0].Mapping
	assert.Nil(t, m[1].KeepHumanEdits, "left out, the destination's setting applies")
	require.NotNil(t, m[2].KeepHumanEdits)
	assert.True(t, *m[2].KeepHumanEdits)
	require.NotNil(t, m[3].KeepHumanEdits)
	assert.False(t, *m[3].KeepHumanEdits)
}
