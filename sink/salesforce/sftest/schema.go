package sftest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// FieldType is a Salesforce field type as describe reports it.
type FieldType string

// Field types the emulator understands.
const (
	TypeString    FieldType = "string"
	TypeTextArea  FieldType = "textarea"
	TypeEmail     FieldType = "email"
	TypePhone     FieldType = "phone"
	TypeURL       FieldType = "url"
	TypePicklist  FieldType = "picklist"
	TypeBoolean   FieldType = "boolean"
	TypeInt       FieldType = "int"
	TypeDouble    FieldType = "double"
	TypeCurrency  FieldType = "currency"
	TypePercent   FieldType = "percent"
	TypeDate      FieldType = "date"
	TypeDateTime  FieldType = "datetime"
	TypeReference FieldType = "reference"
	TypeID        FieldType = "id"
)

// Field declares a field of an object. Zero values mean the Salesforce
// defaults: nillable, createable and updateable, not unique, not external.
type Field struct {
	Name  string
	Label string
	Type  FieldType
	// Length is the maximum number of characters of a text field
	// (default 255; 32768 for textarea, 80 for email, 40 for phone).
	Length int
	// Precision and Scale bound numeric fields (default 18 and 0; currency 2).
	Precision int
	Scale     int
	// Required makes the field non-nillable: inserts must set it.
	Required      bool
	Unique        bool
	ExternalID    bool
	IDLookup      bool
	CaseSensitive bool
	NotCreateable bool
	NotUpdateable bool
	// ReferenceTo and RelationshipName describe a lookup (type reference).
	ReferenceTo      string
	RelationshipName string
	// Values lists picklist values; Restricted rejects anything else.
	Values     []string
	Restricted bool
	// RecordTypeValues narrows a restricted picklist per record type: by a
	// record type's DeveloperName, the values a record of that type may
	// hold (each one of Values). A record type not listed takes them all.
	RecordTypeValues map[string][]string
}

// Object declares an object. Declaring an object that already exists adds or
// replaces the listed fields.
type Object struct {
	Name      string
	Label     string
	KeyPrefix string
	Fields    []Field
	// OnSave lists what the org does to fields of every record saved
	// (see SaveRule); rules are added to those the object has.
	OnSave []SaveRule
}

type sysKind uint8

const (
	sysNone sysKind = iota
	sysID
	sysIsDeleted
	sysCreatedDate
	sysLastModifiedDate
	sysSystemModstamp
	sysFullName // Contact/Lead Name, computed from FirstName and LastName
)

type fieldDef struct {
	Field
	lname             string
	nillable          bool
	createable        bool
	updateable        bool
	defaultedOnCreate bool
	calculated        bool
	sys               sysKind
	ord               int // index into record values; -1 for system fields
	valueSet          map[string]string
	// rtValues holds RecordTypeValues by lower-case DeveloperName, each
	// set by lower-case value.
	rtValues map[string]map[string]bool
	target   *objectDef // referenced object, set when paths resolve
}

type objectDef struct {
	name, label, keyPrefix string
	custom                 bool
	fields                 []*fieldDef
	byLower                map[string]*fieldDef
	byRel                  map[string]*fieldDef // lower-case relationship name -> reference field
	nData                  int
	firstName, lastName    *fieldDef
	tbl                    *table
	rules                  []*saveRule
}

func (o *objectDef) field(name string) *fieldDef { return o.byLower[strings.ToLower(name)] }

func (o *objectDef) relationship(name string) *fieldDef { return o.byRel[strings.ToLower(name)] }

func (f *fieldDef) isText() bool {
	switch f.Type {
	case TypeString, TypeTextArea, TypeEmail, TypePhone, TypeURL, TypePicklist:
		return true
	}
	return false
}

func (f *fieldDef) isNumber() bool {
	switch f.Type {
	case TypeInt, TypeDouble, TypeCurrency, TypePercent:
		return true
	}
	return false
}

func (f *fieldDef) soapType() string {
	switch f.Type {
	case TypeBoolean:
		return "xsd:boolean"
	case TypeInt:
		return "xsd:int"
	case TypeDouble, TypeCurrency, TypePercent:
		return "xsd:double"
	case TypeDate:
		return "xsd:date"
	case TypeDateTime:
		return "xsd:dateTime"
	case TypeReference, TypeID:
		return "tns:ID"
	}
	return "xsd:string"
}

var validTypes = []FieldType{TypeString, TypeTextArea, TypeEmail, TypePhone, TypeURL, TypePicklist,
	TypeBoolean, TypeInt, TypeDouble, TypeCurrency, TypePercent, TypeDate, TypeDateTime, TypeReference, TypeID}

func newFieldDef(f Field) (*fieldDef, error) {
	if f.Name == "" {
		return nil, errors.New("field without a name")
	}
	if !slices.Contains(validTypes, f.Type) {
		return nil, fmt.Errorf("field %s: unknown type %q", f.Name, f.Type)
	}
	if f.Type == TypeID {
		return nil, fmt.Errorf("field %s: type id is reserved for the Id field", f.Name)
	}
	if f.Type == TypeReference && f.ReferenceTo == "" {
		return nil, fmt.Errorf("field %s: reference needs referenceTo", f.Name)
	}
	if f.Type != TypeReference && (f.ReferenceTo != "" || f.RelationshipName != "") {
		return nil, fmt.Errorf("field %s: referenceTo and relationshipName need type reference", f.Name)
	}
	if f.ExternalID && !(f.isTextType() || f.Type == TypeInt || f.Type == TypeDouble) {
		return nil, fmt.Errorf("field %s: externalId needs a text, email, int or double field", f.Name)
	}
	if f.Length < 0 || f.Precision < 0 || f.Scale < 0 || (f.Precision > 0 && f.Scale > f.Precision) {
		return nil, fmt.Errorf("field %s: invalid length, precision or scale", f.Name)
	}
	d := &fieldDef{Field: f, lname: strings.ToLower(f.Name), ord: -1}
	if d.Label == "" {
		d.Label = labelFor(f.Name)
	}
	if d.ExternalID {
		d.IDLookup = true
	}
	switch d.Type {
	case TypeString, TypeURL, TypePicklist:
		if d.Length == 0 {
			d.Length = 255
		}
	case TypeTextArea:
		if d.Length == 0 {
			d.Length = 32768
		}
	case TypeEmail:
		if d.Length == 0 {
			d.Length = 80
		}
	case TypePhone:
		if d.Length == 0 {
			d.Length = 40
		}
	case TypeInt:
		if d.Precision == 0 {
			d.Precision = 9
		}
		d.Scale = 0
	case TypeDouble, TypePercent:
		if d.Precision == 0 {
			d.Precision = 18
		}
	case TypeCurrency:
		if d.Precision == 0 {
			d.Precision = 18
			if d.Scale == 0 {
				d.Scale = 2
			}
		}
	case TypeReference:
		d.Length = 18
		if d.RelationshipName == "" {
			switch {
			case strings.HasSuffix(d.Name, "__c"):
				d.RelationshipName = strings.TrimSuffix(d.Name, "__c") + "__r"
			case strings.HasSuffix(d.Name, "Id") && len(d.Name) > 2:
				d.RelationshipName = strings.TrimSuffix(d.Name, "Id")
			}
		}
	}
	d.nillable = !d.Required
	d.createable = !d.NotCreateable
	d.updateable = !d.NotUpdateable
	if d.Type == TypeBoolean {
		// Checkboxes are never null: they default to false.
		d.nillable = false
		d.defaultedOnCreate = true
	}
	if len(d.Values) > 0 {
		d.valueSet = make(map[string]string, len(d.Values))
		for _, v := range d.Values {
			d.valueSet[strings.ToLower(v)] = v
		}
	}
	if err := d.recordTypeSubsets(); err != nil {
		return nil, err
	}
	return d, nil
}

func (f Field) isTextType() bool {
	switch f.Type {
	case TypeString, TypeTextArea, TypeEmail, TypePhone, TypeURL, TypePicklist:
		return true
	}
	return false
}

func labelFor(name string) string {
	n := strings.TrimSuffix(name, "__c")
	n = strings.ReplaceAll(n, "_", " ")
	return n
}

func sysField(name, label string, t FieldType, k sysKind) *fieldDef {
	d := &fieldDef{Field: Field{Name: name, Label: label, Type: t}, lname: strings.ToLower(name), sys: k, ord: -1}
	switch k {
	case sysID:
		d.Length = 18
		d.IDLookup = true
	case sysIsDeleted:
		d.defaultedOnCreate = true
	case sysFullName:
		d.Length = 121
		d.calculated = true
		d.nillable = false
	}
	if k == sysCreatedDate || k == sysLastModifiedDate || k == sysSystemModstamp {
		d.defaultedOnCreate = true
	}
	return d
}

func newObjectDef(name, label, prefix string) *objectDef {
	o := &objectDef{name: name, label: label, keyPrefix: prefix, custom: strings.HasSuffix(name, "__c"),
		byLower: map[string]*fieldDef{}, byRel: map[string]*fieldDef{}}
	if o.label == "" {
		o.label = labelFor(name)
	}
	for _, f := range []*fieldDef{
		sysField("Id", o.label+" ID", TypeID, sysID),
		sysField("IsDeleted", "Deleted", TypeBoolean, sysIsDeleted),
		sysField("CreatedDate", "Created Date", TypeDateTime, sysCreatedDate),
		sysField("LastModifiedDate", "Last Modified Date", TypeDateTime, sysLastModifiedDate),
		sysField("SystemModstamp", "System Modstamp", TypeDateTime, sysSystemModstamp),
	} {
		o.addField(f)
	}
	o.tbl = newTable(o)
	return o
}

// addField adds or replaces a field. Replacing keeps the slot so stored
// values stay aligned; a new data field widens every record lazily.
func (o *objectDef) addField(f *fieldDef) {
	if old := o.byLower[f.lname]; old != nil {
		// Callers never replace system fields (define refuses to).
		f.ord = old.ord
		for i, x := range o.fields {
			if x == old {
				o.fields[i] = f
			}
		}
		if old.RelationshipName != "" {
			delete(o.byRel, strings.ToLower(old.RelationshipName))
		}
	} else {
		if f.sys == sysNone {
			f.ord = o.nData
			o.nData++
		}
		o.fields = append(o.fields, f)
	}
	o.byLower[f.lname] = f
	if f.Type == TypeReference && f.RelationshipName != "" {
		o.byRel[strings.ToLower(f.RelationshipName)] = f
	}
	switch f.lname {
	case "firstname":
		o.firstName = f
	case "lastname":
		o.lastName = f
	}
}

func mustField(f Field) *fieldDef {
	d, err := newFieldDef(f)
	if err != nil {
		panic(err)
	}
	return d
}

func extIDField() Field {
	return Field{Name: "External_Id__c", Label: "External Id", Type: TypeString, Length: 255, ExternalID: true, Unique: true, IDLookup: true}
}

// defaultObjects builds the standard objects of a fresh org.
func defaultObjects() []*objectDef {
	industries := []string{"Agriculture", "Banking", "Chemicals", "Communications", "Construction", "Consulting",
		"Education", "Electronics", "Energy", "Engineering", "Entertainment", "Finance", "Government",
		"Healthcare", "Insurance", "Manufacturing", "Media", "Retail", "Technology", "Transportation", "Other"}
	stages := []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
		"Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}

	acct := newObjectDef("Account", "Account", "001")
	for _, f := range []Field{
		{Name: "Name", Label: "Account Name", Type: TypeString, Length: 255, Required: true},
		{Name: "AccountNumber", Label: "Account Number", Type: TypeString, Length: 40},
		{Name: "Type", Label: "Account Type", Type: TypePicklist, Values: []string{"Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"}},
		{Name: "Industry", Type: TypePicklist, Values: industries},
		{Name: "Phone", Label: "Account Phone", Type: TypePhone},
		{Name: "Website", Type: TypeURL},
		{Name: "NumberOfEmployees", Label: "Employees", Type: TypeInt, Precision: 8},
		{Name: "AnnualRevenue", Label: "Annual Revenue", Type: TypeCurrency, Precision: 18, Scale: 0},
		{Name: "BillingCity", Label: "Billing City", Type: TypeString, Length: 40},
		{Name: "BillingCountry", Label: "Billing Country", Type: TypeString, Length: 80},
		{Name: "Description", Label: "Account Description", Type: TypeTextArea, Length: 32000},
		{Name: "ParentId", Label: "Parent Account ID", Type: TypeReference, ReferenceTo: "Account", RelationshipName: "Parent"},
		extIDField(),
	} {
		acct.addField(mustField(f))
	}

	contact := newObjectDef("Contact", "Contact", "003")
	for _, f := range []Field{
		{Name: "FirstName", Label: "First Name", Type: TypeString, Length: 40},
		{Name: "LastName", Label: "Last Name", Type: TypeString, Length: 80, Required: true},
		{Name: "Email", Type: TypeEmail},
		{Name: "Phone", Label: "Business Phone", Type: TypePhone},
		{Name: "Title", Type: TypeString, Length: 128},
		{Name: "Birthdate", Type: TypeDate},
		{Name: "HasOptedOutOfEmail", Label: "Email Opt Out", Type: TypeBoolean},
		{Name: "Description", Label: "Contact Description", Type: TypeTextArea, Length: 32000},
		{Name: "AccountId", Label: "Account ID", Type: TypeReference, ReferenceTo: "Account", RelationshipName: "Account"},
		extIDField(),
	} {
		contact.addField(mustField(f))
	}
	contact.addField(sysField("Name", "Full Name", TypeString, sysFullName))

	lead := newObjectDef("Lead", "Lead", "00Q")
	for _, f := range []Field{
		{Name: "FirstName", Label: "First Name", Type: TypeString, Length: 40},
		{Name: "LastName", Label: "Last Name", Type: TypeString, Length: 80, Required: true},
		{Name: "Company", Type: TypeString, Length: 255, Required: true},
		{Name: "Email", Type: TypeEmail},
		{Name: "Phone", Type: TypePhone},
		{Name: "Title", Type: TypeString, Length: 128},
		{Name: "Industry", Type: TypePicklist, Values: industries},
		{Name: "LeadSource", Label: "Lead Source", Type: TypePicklist, Values: []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}},
		{Name: "Status", Type: TypePicklist, Values: []string{"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}},
		{Name: "Description", Type: TypeTextArea, Length: 32000},
		extIDField(),
	} {
		lead.addField(mustField(f))
	}
	lead.addField(sysField("Name", "Full Name", TypeString, sysFullName))
	// Status is required by the platform but filled with the default value.
	lead.field("Status").defaultedOnCreate = true

	opp := newObjectDef("Opportunity", "Opportunity", "006")
	for _, f := range []Field{
		{Name: "Name", Type: TypeString, Length: 120, Required: true},
		{Name: "StageName", Label: "Stage", Type: TypePicklist, Required: true, Values: stages},
		{Name: "CloseDate", Label: "Close Date", Type: TypeDate, Required: true},
		{Name: "Amount", Type: TypeCurrency, Precision: 18, Scale: 2},
		{Name: "Probability", Label: "Probability (%)", Type: TypePercent, Precision: 3, Scale: 0},
		{Name: "Type", Label: "Opportunity Type", Type: TypePicklist, Values: []string{"Existing Customer - Upgrade", "New Customer"}},
		{Name: "Description", Type: TypeTextArea, Length: 32000},
		{Name: "AccountId", Label: "Account ID", Type: TypeReference, ReferenceTo: "Account", RelationshipName: "Account"},
	} {
		opp.addField(mustField(f))
	}
	// AssignmentRule is read-only on a real org (rules are set up in the
	// user interface); here Insert seeds it, so clients can query for the
	// active rule of an object.
	rule := newObjectDef("AssignmentRule", "Assignment Rule", "01Q")
	for _, f := range []Field{
		{Name: "Name", Type: TypeString, Length: 120},
		{Name: "SobjectType", Label: "Object", Type: TypePicklist, Values: []string{"Case", "Lead"}, Restricted: true},
		{Name: "Active", Type: TypeBoolean},
	} {
		rule.addField(mustField(f))
	}
	// RecordType is set up in Setup on a real org; here AddRecordType
	// makes one and gives its object the RecordTypeId field.
	rtype := newObjectDef("RecordType", "Record Type", "012")
	for _, f := range []Field{
		{Name: "Name", Type: TypeString, Length: 80},
		{Name: "DeveloperName", Label: "Record Type Name", Type: TypeString, Length: 80},
		{Name: "SobjectType", Label: "SObject Type Name", Type: TypeString, Length: 40},
		{Name: "IsActive", Label: "Active", Type: TypeBoolean},
	} {
		rtype.addField(mustField(f))
	}
	return []*objectDef{acct, contact, lead, opp, rule, rtype}
}

// schemaFile is the YAML schema format; see README.md.
type schemaFile struct {
	Objects []schemaObject `yaml:"objects"`
	Auth    *schemaAuth    `yaml:"auth"`
}

type schemaAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`
	JWTPublicKey string `yaml:"jwtPublicKey"`
}

type schemaObject struct {
	Name      string        `yaml:"name"`
	Label     string        `yaml:"label"`
	KeyPrefix string        `yaml:"keyPrefix"`
	Fields    []schemaField `yaml:"fields"`
	OnSave    []schemaRule  `yaml:"onSave"`
}

type schemaField struct {
	Name             string    `yaml:"name"`
	Label            string    `yaml:"label"`
	Type             FieldType `yaml:"type"`
	Length           int       `yaml:"length"`
	Precision        int       `yaml:"precision"`
	Scale            int       `yaml:"scale"`
	Required         *bool     `yaml:"required"`
	Nillable         *bool     `yaml:"nillable"`
	Unique           bool      `yaml:"unique"`
	ExternalID       bool      `yaml:"externalId"`
	IDLookup         bool      `yaml:"idLookup"`
	CaseSensitive    bool      `yaml:"caseSensitive"`
	Createable       *bool     `yaml:"createable"`
	Updateable       *bool     `yaml:"updateable"`
	ReferenceTo      string    `yaml:"referenceTo"`
	RelationshipName string    `yaml:"relationshipName"`
	Values           []string  `yaml:"values"`
	Restricted       bool      `yaml:"restricted"`
	// RecordTypeValues: by record type DeveloperName, its values.
	RecordTypeValues map[string][]string `yaml:"recordTypeValues"`
}

// parseSchema reads a YAML schema strictly: unknown keys are errors that
// carry their line and column.
func parseSchema(data []byte) (*schemaFile, error) {
	var s schemaFile
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("schema: %s", yaml.FormatError(err, false, false))
	}
	for i, o := range s.Objects {
		if o.Name == "" {
			return nil, fmt.Errorf("schema: objects[%d] has no name", i)
		}
		for j, f := range o.Fields {
			if f.Required != nil && f.Nillable != nil && *f.Required == *f.Nillable {
				return nil, fmt.Errorf("schema: %s.%s: required and nillable contradict each other", o.Name, f.Name)
			}
			if f.Name == "" {
				return nil, fmt.Errorf("schema: %s.fields[%d] has no name", o.Name, j)
			}
		}
	}
	return &s, nil
}

func (o schemaObject) toObject() Object {
	obj := Object{Name: o.Name, Label: o.Label, KeyPrefix: o.KeyPrefix}
	for _, r := range o.OnSave {
		obj.OnSave = append(obj.OnSave, r.toRule())
	}
	for _, f := range o.Fields {
		fd := Field{Name: f.Name, Label: f.Label, Type: f.Type, Length: f.Length, Precision: f.Precision,
			Scale: f.Scale, Unique: f.Unique, ExternalID: f.ExternalID, IDLookup: f.IDLookup,
			CaseSensitive: f.CaseSensitive, ReferenceTo: f.ReferenceTo, RelationshipName: f.RelationshipName,
			Values: f.Values, Restricted: f.Restricted, RecordTypeValues: f.RecordTypeValues}
		if f.Required != nil {
			fd.Required = *f.Required
		}
		if f.Nillable != nil {
			fd.Required = !*f.Nillable
		}
		if f.Createable != nil {
			fd.NotCreateable = !*f.Createable
		}
		if f.Updateable != nil {
			fd.NotUpdateable = !*f.Updateable
		}
		obj.Fields = append(obj.Fields, fd)
	}
	return obj
}

func loadSchemaFile(path string) (*schemaFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSchema(data)
}
