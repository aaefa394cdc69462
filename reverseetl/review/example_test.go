package review_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/review"
	"github.com/retl-go/retl/sink"
)

// exampleReport is a plan of one sync, as Runner.Run returns it with
// RunOptions.Plan.
func exampleReport() *reverseetl.Report {
	return &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{
		Name: "accounts", Status: reverseetl.Succeeded, Read: 3, Created: 1, Updated: 1, Unchanged: 1, Skipped: 1,
		SkipReasons: map[sink.SkipCode]int64{sink.SkipUnchanged: 1},
		Changes: []reverseetl.PlannedChange{
			{Key: "A-001", ID: "001000000000001AAA", Fields: []sink.FieldChange{{Field: "NumberOfEmployees", From: "450", To: "900"}}},
			{Key: "A-003", Create: true, Fields: []sink.FieldChange{{Field: "Name", To: "Initech"}}},
		},
	}}}
}

// Text prints a plan as "retl plan" does.
func ExampleText() {
	if err := review.Text(os.Stdout, exampleReport(), review.Options{Plan: true, Changes: 5}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// SYNC      READ  WOULD CREATE  WOULD UPDATE  UNCHANGED  KEPT BACK  WOULD FAIL  SKIPPED  STATUS
	// accounts  3     1             1             1          0          0           0        succeeded
	//
	// accounts: sample changes (2 of 2 records):
	//   update A-001: NumberOfEmployees 450 → 900
	//   create A-003: Name=Initech
	//
	// Nothing was written. A run also sends records whose values Salesforce already holds, unless change detection
	// has seen them accepted before; Salesforce counts those as updated.
}

// HTML writes the page a reviewer opens; a CI job keeps it as an artifact.
func ExampleHTML() {
	var page bytes.Buffer
	if err := review.HTML(&page, exampleReport(), review.Options{Plan: true}); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(page.String(), "\n") {
		if strings.Contains(line, "NumberOfEmployees") || strings.HasPrefix(line, "<h1>") {
			fmt.Println(line)
		}
	}
	// Output:
	// <h1>retl plan</h1>
	// <tr><td class="rec" rowspan="1"><code>A-001</code></td><td class="rec v" rowspan="1">001000000000001AAA</td><td>NumberOfEmployees</td><td class="v from">450</td><td class="v to">900</td></tr>
}
