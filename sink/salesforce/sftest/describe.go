package sftest

import (
	"net/http"
	"strings"
)

type picklistValue struct {
	Active       bool    `json:"active"`
	DefaultValue bool    `json:"defaultValue"`
	Label        string  `json:"label"`
	ValidFor     *string `json:"validFor"`
	Value        string  `json:"value"`
}

type fieldDescribe struct {
	Name               string          `json:"name"`
	Label              string          `json:"label"`
	Type               string          `json:"type"`
	SoapType           string          `json:"soapType"`
	Length             int             `json:"length"`
	ByteLength         int             `json:"byteLength"`
	Digits             int             `json:"digits"`
	Precision          int             `json:"precision"`
	Scale              int             `json:"scale"`
	Nillable           bool            `json:"nillable"`
	Createable         bool            `json:"createable"`
	Updateable         bool            `json:"updateable"`
	Unique             bool            `json:"unique"`
	ExternalID         bool            `json:"externalId"`
	IDLookup           bool            `json:"idLookup"`
	CaseSensitive      bool            `json:"caseSensitive"`
	DefaultedOnCreate  bool            `json:"defaultedOnCreate"`
	Calculated         bool            `json:"calculated"`
	AutoNumber         bool            `json:"autoNumber"`
	Custom             bool            `json:"custom"`
	Filterable         bool            `json:"filterable"`
	Sortable           bool            `json:"sortable"`
	Groupable          bool            `json:"groupable"`
	NameField          bool            `json:"nameField"`
	ReferenceTo        []string        `json:"referenceTo"`
	RelationshipName   *string         `json:"relationshipName"`
	RestrictedPicklist bool            `json:"restrictedPicklist"`
	PicklistValues     []picklistValue `json:"picklistValues"`
	HTMLFormatted      bool            `json:"htmlFormatted"`
	DefaultValue       any             `json:"defaultValue"`
}

func (s *Server) describeField(o *objectDef, f *fieldDef) fieldDescribe {
	d := fieldDescribe{
		Name: f.Name, Label: f.Label, Type: string(f.Type), SoapType: f.soapType(),
		Nillable: f.nillable, Createable: f.createable && f.sys == sysNone, Updateable: f.updateable && f.sys == sysNone,
		Unique: f.Unique, ExternalID: f.ExternalID, IDLookup: f.IDLookup, CaseSensitive: f.CaseSensitive,
		DefaultedOnCreate: f.defaultedOnCreate, Calculated: f.calculated, Custom: strings.HasSuffix(f.Name, "__c"),
		Filterable: true, Sortable: f.Type != TypeTextArea, Groupable: f.Type != TypeTextArea && !f.isNumber(),
		NameField: f.lname == "name", ReferenceTo: []string{}, PicklistValues: []picklistValue{},
		RestrictedPicklist: f.Restricted,
	}
	if f.sys == sysID {
		d.Nillable = false
	}
	if f.sys != sysNone && f.sys != sysFullName {
		d.Nillable = false
	}
	switch {
	case f.isText() || f.Type == TypeReference || f.Type == TypeID:
		d.Length = f.Length
		d.ByteLength = f.Length * 3
	case f.Type == TypeInt:
		d.Digits = f.Precision
	case f.isNumber():
		d.Precision, d.Scale = f.Precision, f.Scale
	}
	if f.Type == TypeReference {
		d.ReferenceTo = []string{f.ReferenceTo}
		rn := f.RelationshipName
		d.RelationshipName = &rn
	}
	for i, v := range f.Values {
		d.PicklistValues = append(d.PicklistValues, picklistValue{Active: true, Label: v, Value: v, DefaultValue: i == 0 && f.defaultedOnCreate})
	}
	if f.Type == TypeBoolean && f.sys == sysNone {
		d.DefaultValue = false
	}
	return d
}

func (s *Server) objectURLs(o *objectDef, c *reqCtx) map[string]string {
	b := c.base() + "/sobjects/" + o.name
	return map[string]string{"sobject": b, "describe": b + "/describe", "rowTemplate": b + "/{ID}"}
}

func (s *Server) describeSummary(o *objectDef, c *reqCtx) map[string]any {
	return map[string]any{
		"name": o.name, "label": o.label, "labelPlural": o.label + "s", "keyPrefix": o.keyPrefix,
		"custom": o.custom, "createable": true, "updateable": true, "deletable": true, "queryable": true,
		"retrieveable": true, "searchable": true, "undeletable": true, "layoutable": true,
		"urls": s.objectURLs(o, c),
	}
}

// describe renders the sObject Describe resource. Callers hold org.mu.
func (s *Server) describe(o *objectDef, c *reqCtx) map[string]any {
	d := s.describeSummary(o, c)
	fields := make([]fieldDescribe, 0, len(o.fields))
	for _, f := range o.fields {
		fields = append(fields, s.describeField(o, f))
	}
	d["fields"] = fields
	var children []map[string]any
	for _, other := range s.org.order {
		for _, f := range other.fields {
			if f.Type == TypeReference && f.ReferenceTo == o.name {
				rel := other.name + "s"
				if other.custom {
					rel = strings.TrimSuffix(other.name, "__c") + "s__r"
				}
				children = append(children, map[string]any{
					"childSObject": other.name, "field": f.Name, "relationshipName": rel,
					"cascadeDelete": false, "restrictedDelete": false,
				})
			}
		}
	}
	if children == nil {
		children = []map[string]any{}
	}
	d["childRelationships"] = children
	d["recordTypeInfos"] = []any{}
	return d
}

func (s *Server) handleGlobalDescribe(c *reqCtx) {
	s.org.mu.RLock()
	objs := make([]map[string]any, 0, len(s.org.order))
	for _, o := range s.org.order {
		objs = append(objs, s.describeSummary(o, c))
	}
	s.org.mu.RUnlock()
	writeJSON(c.w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objs})
}
