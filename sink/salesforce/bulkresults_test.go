package salesforce

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func testJob(rows ...[]string) *jobPlan {
	var enc csvEncoder
	j := &jobPlan{body: enc.row([]string{"K", "V"})}
	j.head = len(j.body)
	for i, r := range rows {
		j.body = append(j.body, enc.view(r)...)
		j.idx = append(j.idx, i)
		j.ends = append(j.ends, len(j.body))
	}
	return j
}

func TestResultIndexQueuesAndFallbacks(t *testing.T) {
	j := testJob([]string{"a", "1"}, []string{"a", "1"}, []string{"b", "2"}, []string{"", "3"})
	m := newResultIndex(j, 0, strings.ToLower)
	assert.Equal(t, 0, m.take([]string{"a", "1"}, true), "identical rows are taken in upload order")
	assert.Equal(t, 1, m.take([]string{"a", "1"}, true))
	assert.Equal(t, -1, m.take([]string{"a", "1"}, true), "no free row and no free key")
	assert.Equal(t, 2, m.take([]string{"B", "changed"}, true), "by the key when the echo differs")
	assert.Equal(t, -1, m.take([]string{"b", "2"}, true), "a row is taken once")
	assert.Equal(t, 3, m.take([]string{"", "3"}, true), "a row without a key by its cells")
	assert.Equal(t, -1, m.take([]string{"zz"}, false))

	m.untake([]int32{0, 2})
	assert.Equal(t, 0, m.take([]string{"a", "1"}, true), "freed rows are found again")
	assert.Equal(t, 2, m.take([]string{"b", "2"}, true))

	ins := testJob([]string{" x ", "1"}, []string{"y", "2"})
	m = newResultIndex(ins, -1, nil)
	assert.Equal(t, 0, m.take([]string{"x", "1"}, true), "inserts fall back to trimmed cells")
	assert.Equal(t, -1, m.take([]string{"x", "1"}, true))
	assert.Equal(t, -1, m.take([]string{"y"}, false), "an incomplete row of an insert has nothing to go by")
}
