// Package config loads retl's YAML: one sync per file in a directory, and one
// project file (retl.yaml) beside that directory for connections, defaults,
// alerts and the warehouse state.
//
// Parsing is strict: an unknown key, a value of the wrong type, a missing
// required key or a rule a sync breaks is an error that names the file, the
// line and the key. ${ENV_VAR} and ${resolver:reference} references resolve
// at load time through SecretResolvers; values that come from secrets are
// registered with the project's Redactor and never printed.
package config

import (
	"github.com/goccy/go-yaml/ast"
)

// Project is everything a run needs: the project file and the syncs.
type Project struct {
	// File is the project file's path, or "" when embedded defaults are used.
	File        string
	Connections map[string]*Connection
	Defaults    Defaults
	Alerts      Alerts
	Reports     Reports
	Writeback   *Writeback
	// Secrets configures the secret resolvers.
	Secrets SecretsConfig
	Syncs   []*Sync
	// Redactor knows every secret value resolved while loading.
	Redactor *Redactor
	// Offline is set when the project was loaded WithOffline: values may
	// still hold unresolved ${...} references.
	Offline bool
}

// Sync returns the sync with the given name, or nil.
func (p *Project) Sync(name string) *Sync {
	for _, s := range p.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Connection is a named connection from the project file. Its type-specific
// keys are decoded by the source or sink that uses it, through Section.
type Connection struct {
	Name string
	Type string
	Pos  Pos
	// Section holds the keys other than type.
	Section Section
}

// Defaults apply to every sync that does not set its own.
type Defaults struct {
	// Parallel bounds how many syncs run at once.
	Parallel int `yaml:"parallel"`
	// RecordsPerWrite is records_per_write of the syncs that set none.
	RecordsPerWrite int        `yaml:"records_per_write"`
	NullPolicy      NullPolicy `yaml:"null_policy"`
	OnFailure       OnFailure  `yaml:"on_failure"`
}

// Alerts say who is told when a run goes wrong, and when.
type Alerts struct {
	// Rules: when any sync failed, or a sync's failed rows exceed FailedRowsAbove.
	OnSyncFailure   bool          `yaml:"on_sync_failure"`
	FailedRowsAbove *int          `yaml:"failed_rows_above"`
	Email           *EmailAlert   `yaml:"email"`
	Webhook         *WebhookAlert `yaml:"webhook"`
}

// EmailAlert sends through Snowflake's SYSTEM$SEND_EMAIL.
type EmailAlert struct {
	Connection  string   `yaml:"connection" validate:"required"`
	Integration string   `yaml:"integration" validate:"required"`
	Recipients  []string `yaml:"recipients" validate:"required"`
}

// WebhookAlert posts Slack-compatible JSON.
type WebhookAlert struct {
	URL string `yaml:"url" validate:"required"`
}

// Reports say where run reports and failed-row files go.
type Reports struct {
	Dir string `yaml:"dir"`
}

// Writeback writes the run log and per-record outcomes to the warehouse.
type Writeback struct {
	Connection    string `yaml:"connection" validate:"required"`
	Schema        string `yaml:"schema"`
	Results       string `yaml:"results"` // all | failed | none
	RetentionDays int    `yaml:"retention_days"`
	// ExcludeFields are destination fields (such as personal data) whose
	// values never go to the warehouse's record results.
	ExcludeFields []string `yaml:"exclude_fields"`
}

// SecretsConfig is the project file's secrets section: settings for the
// secret resolvers, handed to each ResolverFactory.
type SecretsConfig struct {
	AWS AWSSecrets `yaml:"aws"`
}

// AWSSecrets configures the AWS Secrets Manager resolver. Empty fields leave
// the AWS SDK's defaults (environment, shared config).
type AWSSecrets struct {
	Region string `yaml:"region"`
	// Endpoint overrides the service endpoint, for tests and private endpoints.
	Endpoint string `yaml:"endpoint"`
}

// NullPolicy says what a source NULL does to its target field.
type NullPolicy string

const (
	// NullClear clears the field (the default).
	NullClear NullPolicy = "clear"
	// NullIgnore leaves the field as it is.
	NullIgnore NullPolicy = "ignore"
)

// OnFailure sets when failed rows make a sync count as failed. With neither
// set, any failed row fails the sync.
type OnFailure struct {
	MaxFailedRows    *int     `yaml:"max_failed_rows"`
	MaxFailedPercent *float64 `yaml:"max_failed_percent"`
}

// Sync is one sync file.
type Sync struct {
	File string
	Pos  Pos
	Name string

	Source      SourceSpec
	Destination DestinationSpec
	Mapping     []*Mapping
	// Key names the source column that identifies a row in reports.
	Key string
	// Filter, when set, is an expression over the row; rows where it is
	// false are skipped with reason "filtered".
	Filter     string
	NullPolicy NullPolicy
	OnFailure  OnFailure
	// RecordsPerWrite, when set, is how many records one Write hands the
	// destination, in place of the destination's own choice (for
	// Salesforce, its bulk_batch_size, or 200 a REST call).
	RecordsPerWrite int
	DependsOn       []string
	// RunIfParentFailed runs the sync even when a sync it depends on failed.
	RunIfParentFailed bool
	ChangeDetection   *ChangeDetection
	// OnRemoved acts on records the sync wrote whose keys its query no
	// longer returns; nil does nothing.
	OnRemoved *OnRemoved
}

// SourceSpec is a sync's source section.
type SourceSpec struct {
	Type       string
	Connection string
	Query      string
	Pos        Pos
	// Section holds the keys other than type, connection and query.
	Section Section
}

// DestinationSpec is a sync's destination section.
// Only the type and the connection are common to every destination; the
// sink type decodes and checks the rest of the section itself (for
// Salesforce: object, operation, the fields that find records, options).
type DestinationSpec struct {
	Type       string
	Connection string
	Pos        Pos
	// Section holds the keys other than type and connection.
	Section Section
}

// ChangeDetection sends only rows whose mapped payload changed since the
// last accepted write (change_detection: true).
type ChangeDetection struct {
	// Key is the sync's key column, which tells rows apart in the state.
	Key string
}

// FieldType is the type a mapping normalises its value to.
type FieldType string

const (
	TypeAuto     FieldType = ""
	TypeString   FieldType = "string"
	TypeNumber   FieldType = "number"
	TypeInteger  FieldType = "integer"
	TypeBoolean  FieldType = "boolean"
	TypeDate     FieldType = "date"
	TypeDateTime FieldType = "datetime"
)

// Mapping is one entry of a sync's mapping.
type Mapping struct {
	Pos Pos
	// From is a source column; To is the target field (or Relationship.ExtIdField).
	From string
	To   string
	// Value is a constant (HasValue distinguishes a constant null).
	Value    any
	HasValue bool
	// Expr computes the value from the row.
	Expr string
	// When, if set, must be true for the field to be set.
	When       string
	SetIfEmpty bool
	// Truncate lets the destination cut text longer than its field instead
	// of refusing the row.
	Truncate bool
	// KeepHumanEdits, when set, overrides the destination's
	// keep_human_edits for this field.
	KeepHumanEdits *bool
	Type           FieldType
	// Format parses text dates and date-times (Go layout), when Type is date or datetime.
	Format string
	// Null overrides the sync's null policy for this field.
	Null NullPolicy
}

// Pos is a place in a file, for error messages.
type Pos struct {
	File string
	Line int
	Col  int
}

// Section is a YAML mapping kept as parsed, so that the plugin that owns it
// can decode it strictly into its own struct with errors that keep their
// file and line.
type Section struct {
	file string
	node ast.Node
	// keys present, for checks that need them without decoding.
	keys []string
	// path is the section's key path, prefixed to the keys of errors.
	path string
	pos  Pos
	// red redacts known secrets from errors of custom unmarshalers.
	red *Redactor
}
