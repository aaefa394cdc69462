package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/simpleforce/simpleforce"
	"golang.org/x/sync/errgroup"
)

// sfTransport carries simpleforce's requests through the client's own HTTP
// core, so they share its session, its refresh on expiry, its retries and
// its typed errors. simpleforce builds its requests without a context;
// the transport is made per call with the caller's.
type sfTransport struct {
	c     *apiClient
	ctx   context.Context
	login bool // a login request: absolute URL, no session
}

func (t *sfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	r := &request{
		method: req.Method, path: req.URL.Path, body: body,
		ctype:      req.Header.Get("Content-Type"),
		idempotent: req.Method == http.MethodGet || t.login,
	}
	if req.URL.RawQuery != "" {
		q, err := url.ParseQuery(req.URL.RawQuery)
		if err != nil {
			return nil, err
		}
		r.query = q
	}
	if t.login {
		r.base = req.URL.Scheme + "://" + req.URL.Host
		r.header = http.Header{"Soapaction": req.Header.Values("SOAPAction")}
		r.accept = "text/xml"
	}
	resp, err := t.c.do(t.ctx, r)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: resp.status, Status: http.StatusText(resp.status), Header: resp.header,
		Body: io.NopCloser(bytes.NewReader(resp.body)), ContentLength: int64(len(resp.body)),
		Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// simple returns a simpleforce client bound to ctx and the current session.
func (c *apiClient) simple(ctx context.Context) (*simpleforce.Client, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	sf := simpleforce.NewClient(s.instanceURL, "retl", c.cfg.APIVersion)
	sf.SetHttpClient(&http.Client{Transport: &sfTransport{c: c, ctx: ctx}})
	// The session is the client's own; the transport sends whichever token
	// is current, so a refresh during a query is picked up.
	sf.SetSidLoc(s.token, s.instanceURL)
	return sf, nil
}

// get sends a GET through simpleforce and returns the body.
func (c *apiClient) get(ctx context.Context, pathAndQuery string) ([]byte, error) {
	sf, err := c.simple(ctx)
	if err != nil {
		return nil, err
	}
	b, err := sf.ApexREST(http.MethodGet, strings.TrimPrefix(pathAndQuery, "/"), nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unwrapURLError(err)
	}
	return b, nil
}

// currentRow is one record of a query result, as Salesforce returns it: field
// names to values (string, bool, json.Number, nil, or a nested currentRow for a
// relationship). The "attributes" entry is removed.
type currentRow map[string]any

// Get returns the value at a field or relationship path such as
// "Account.External_Id__c", matching names without regard to case.
// A relationship that is empty yields nil.
func (r currentRow) Get(path string) (any, bool) {
	cur := r
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		v, ok := cur.lookup(p)
		if !ok {
			return nil, false
		}
		switch n := v.(type) {
		case currentRow:
			cur = n
		case nil:
			return nil, true
		default:
			return nil, false
		}
	}
	return cur.lookup(parts[len(parts)-1])
}

func (r currentRow) lookup(name string) (any, bool) {
	if v, ok := r[name]; ok {
		return v, true
	}
	for k, v := range r {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// String returns the value at path as text: "" for null or missing.
func (r currentRow) String(path string) string {
	v, _ := r.Get(path)
	return valueText(v)
}

// valueText is a decoded JSON value as Salesforce would show it as text.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func toRow(m map[string]any) currentRow {
	r := make(currentRow, len(m))
	for k, v := range m {
		if k == "attributes" {
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			v = toRow(sub)
		}
		r[k] = v
	}
	return r
}

type queryPage struct {
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// Query runs a SOQL query and yields its records page by page, following
// nextRecordsUrl. Iteration stops at the first error, which is yielded
// with a nil Row. Numbers are json.Number, so decimals stay exact.
func (c *apiClient) Query(ctx context.Context, soql string) iter.Seq2[currentRow, error] {
	return func(yield func(currentRow, error) bool) {
		next := c.dataPath("query") + "?" + url.Values{"q": {soql}}.Encode()
		for next != "" {
			b, err := c.get(ctx, next)
			if err != nil {
				yield(nil, errorf("query: %w", err))
				return
			}
			var page queryPage
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if err := dec.Decode(&page); err != nil {
				yield(nil, errorf("query: decoding the answer: %w", err))
				return
			}
			for _, rec := range page.Records {
				if !yield(toRow(rec), nil) {
					return
				}
			}
			next = ""
			if !page.Done && page.NextRecordsURL != "" {
				next = page.NextRecordsURL
			}
		}
	}
}

// objectDescribe is the part of an sObject describe the sink uses.
type objectDescribe struct {
	Name       string          `json:"name"`
	Createable bool            `json:"createable"`
	Updateable bool            `json:"updateable"`
	Deletable  bool            `json:"deletable"`
	Fields     []fieldDescribe `json:"fields"`
}

// fieldDescribe is one field of an objectDescribe.
type fieldDescribe struct {
	Name               string          `json:"name"`
	Label              string          `json:"label"`
	Type               string          `json:"type"`
	Length             int             `json:"length"`
	Scale              int             `json:"scale"`
	Precision          int             `json:"precision"`
	Createable         bool            `json:"createable"`
	Updateable         bool            `json:"updateable"`
	Nillable           bool            `json:"nillable"`
	DefaultedOnCreate  bool            `json:"defaultedOnCreate"`
	ExternalID         bool            `json:"externalId"`
	IDLookup           bool            `json:"idLookup"`
	CaseSensitive      bool            `json:"caseSensitive"`
	Unique             bool            `json:"unique"`
	ReferenceTo        []string        `json:"referenceTo"`
	RelationshipName   string          `json:"relationshipName"`
	RestrictedPicklist bool            `json:"restrictedPicklist"`
	PicklistValues     []picklistValue `json:"picklistValues"`
}

// picklistValue is one value of a picklist field.
type picklistValue struct {
	Value  string `json:"value"`
	Active bool   `json:"active"`
}

// Field returns the field named name, matched without regard to case, or nil.
func (d *objectDescribe) Field(name string) *fieldDescribe {
	for i := range d.Fields {
		if strings.EqualFold(d.Fields[i].Name, name) {
			return &d.Fields[i]
		}
	}
	return nil
}

// Relationship returns the reference field whose relationship name is
// name (Account for AccountId, Parent__r for Parent__c), or nil.
func (d *objectDescribe) Relationship(name string) *fieldDescribe {
	for i := range d.Fields {
		if d.Fields[i].RelationshipName != "" && strings.EqualFold(d.Fields[i].RelationshipName, name) {
			return &d.Fields[i]
		}
	}
	return nil
}

var identRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Describe returns the describe of an sObject. It is fetched once per
// client and kept; a failure is not kept, so a later call asks again.
func (c *apiClient) Describe(ctx context.Context, object string) (*objectDescribe, error) {
	if !identRe.MatchString(object) {
		return nil, errorf("%q is not an object name", object)
	}
	key := strings.ToLower(object)
	c.describeMu.Lock()
	d := c.describes[key]
	c.describeMu.Unlock()
	if d != nil {
		return d, nil
	}
	b, err := c.get(ctx, c.dataPath("sobjects", object, "describe"))
	if err != nil {
		return nil, errorf("describe %s: %w", object, err)
	}
	d = &objectDescribe{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, errorf("describe %s: decoding the answer: %w", object, err)
	}
	c.describeMu.Lock()
	c.describes[key] = d
	c.describeMu.Unlock()
	return d, nil
}

// describeCached returns a describe already fetched, or nil.
func (c *apiClient) describeCached(object string) *objectDescribe {
	c.describeMu.Lock()
	defer c.describeMu.Unlock()
	return c.describes[strings.ToLower(object)]
}

// A query travels in a GET URL, and Salesforce takes at most 16,384 bytes
// of URI and headers together (help article 000386264): longer answers 414
// or 431. maxQueryBytes bounds the URL-encoded SOQL of one query, leaving
// room for the path and the headers; maxSelectBytes bounds its SELECT list,
// so a mapping of many fields splits them over several queries and the IN
// list of each still takes at least the rest.
const (
	maxQueryBytes  = 12_000
	maxSelectBytes = 4_000
)

// CurrentValues reads the current values of fields for the records of
// object whose keyField is one of keys, in as many queries as the keys and
// fields need: keys are split so that each query's URL stays within
// Salesforce's limit, and a long field list is split too, its parts read
// separately and merged by record Id. The result maps each key value as
// Salesforce holds it to its row; with keyField "Id" keys are 18-character
// Ids. Field names are checked to be plain names or relationship paths,
// and key values are escaped, so neither can change the query.
func (c *apiClient) CurrentValues(ctx context.Context, object, keyField string, keys, fields []string) (map[string]currentRow, error) {
	if !identRe.MatchString(object) {
		return nil, errorf("%q is not an object name", object)
	}
	base := []string{"Id"}
	if !strings.EqualFold(keyField, "Id") {
		base = append(base, keyField)
	}
	seen := map[string]bool{}
	var rest []string
	for _, f := range append([]string{keyField}, fields...) {
		if !isFieldPath(f) {
			return nil, errorf("%q is not a field name", f)
		}
		if !seen[strings.ToLower(f)] {
			seen[strings.ToLower(f)] = true
			if !strings.EqualFold(f, "Id") && !strings.EqualFold(f, keyField) {
				rest = append(rest, f)
			}
		}
	}
	numeric, err := c.numericField(ctx, object, keyField)
	if err != nil {
		return nil, err
	}
	lit, lits := quoteSOQL, keys
	// A number field is compared with unquoted literals, and its values
	// come back in Salesforce's form (1001.0): each row is keyed by every
	// key, as given, that equals it as a number.
	byValue := map[string][]string{}
	if numeric {
		lit, lits = func(n string) string { return n }, nil
		for _, k := range keys {
			if n, ok := canonicalNumber(k); ok {
				if byValue[n] == nil {
					lits = append(lits, n)
				}
				byValue[n] = append(byValue[n], k)
			}
		}
	}
	// Rows of every part, merged by record Id.
	byID := map[string]currentRow{}
	for _, part := range selectParts(base, rest, maxSelectBytes) {
		head := "SELECT " + strings.Join(part, ", ") + " FROM " + object + " WHERE " + keyField + " IN ("
		err := c.queryIn(ctx, head, lits, lit, func(row currentRow) {
			id, _ := row["Id"].(string)
			if have, ok := byID[id]; ok {
				maps.Copy(have, row)
				return
			}
			byID[id] = row
		})
		if err != nil {
			return nil, err
		}
	}
	out := make(map[string]currentRow, len(byID))
	for _, row := range byID {
		if !numeric {
			out[row.String(keyField)] = row
			continue
		}
		if n, ok := canonicalNumber(row.String(keyField)); ok {
			for _, k := range byValue[n] {
				out[k] = row
			}
		}
	}
	return out, nil
}

// selectParts splits fields into SELECT lists that each begin with base and
// stay within limit bytes URL-encoded; a field longer than the limit alone
// still gets a part of its own.
func selectParts(base, fields []string, limit int) [][]string {
	baseLen := encodedLen(strings.Join(base, ", "))
	var parts [][]string
	cur, size := slices.Clone(base), baseLen
	for _, f := range fields {
		n := encodedLen(", " + f)
		if len(cur) > len(base) && size+n > limit {
			parts = append(parts, cur)
			cur, size = slices.Clone(base), baseLen
		}
		cur = append(cur, f)
		size += n
	}
	return append(parts, cur)
}

func encodedLen(s string) int { return len(url.QueryEscape(s)) }

// numberTypes are the field types SOQL compares with unquoted numbers.
var numberTypes = []string{"int", "double", "currency", "percent", "long"}

// numericField reports whether field of object is a number, from its
// describe; a field the describe does not list is taken as text.
func (c *apiClient) numericField(ctx context.Context, object, field string) (bool, error) {
	if strings.EqualFold(field, "Id") || strings.Contains(field, ".") {
		return false, nil
	}
	d, err := c.Describe(ctx, object)
	if err != nil {
		return false, err
	}
	f := d.Field(field)
	return f != nil && slices.Contains(numberTypes, f.Type), nil
}

// canonicalNumber is s as a SOQL number literal in one canonical form
// ("1001", "-2.5"), or false when s is not a decimal number: such a key
// can match no record of a number field.
func canonicalNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/_") {
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	if r.IsInt() {
		return r.Num().String(), true
	}
	// An exact decimal prints as one: trailing zeros go, and a value with
	// no finite decimal form (1/3) was not a decimal to begin with.
	exact, ok := r.FloatPrec()
	if !ok {
		return "", false
	}
	return r.FloatString(exact), true
}

// queryIn runs head (a SOQL query up to its "IN (") for the distinct
// non-empty keys, quoted and split so that each query stays under
// maxQueryBytes URL-encoded, a few queries at once, and calls each with
// every row, one call at a time.
func (c *apiClient) queryIn(ctx context.Context, head string, keys []string, lit func(string) string, each func(currentRow)) error {
	uniq := make([]string, 0, len(keys))
	dup := map[string]bool{}
	for _, k := range keys {
		if k != "" && !dup[k] {
			dup[k] = true
			uniq = append(uniq, k)
		}
	}
	// A few queries at once: a large batch needs many, each short.
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(queryConcurrency)
	for _, chunk := range chunkLits(uniq, lit, maxQueryBytes-encodedLen(head)-encodedLen(")")) {
		soql := head + strings.Join(chunk, ", ") + ")"
		g.Go(func() error {
			for row, err := range c.Query(gctx, soql) {
				if err != nil {
					return err
				}
				mu.Lock()
				each(row)
				mu.Unlock()
			}
			return nil
		})
	}
	return g.Wait()
}

// queryConcurrency bounds the queries CurrentValues runs at once.
const queryConcurrency = 4

func isFieldPath(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if !identRe.MatchString(p) {
			return false
		}
	}
	return true
}

// chunkLiterals quotes keys as SOQL literals and groups them so that each
// group's URL-encoded length stays under limit. A single key longer than
// the limit still gets its own group.
func chunkLiterals(keys []string, limit int) [][]string {
	return chunkLits(keys, quoteSOQL, limit)
}

// chunkLits is chunkLiterals with the literal form lit makes of each key.
func chunkLits(keys []string, literal func(string) string, limit int) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, k := range keys {
		lit := literal(k)
		n := len(url.QueryEscape(lit)) + len(url.QueryEscape(", "))
		if len(cur) > 0 && size+n > limit {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, lit)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// quoteSOQL returns s as a quoted SOQL string literal. Backslash, quotes
// and the control characters SOQL names (\n \r \t \b \f) are escaped, so
// the value cannot end its literal.
func quoteSOQL(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
