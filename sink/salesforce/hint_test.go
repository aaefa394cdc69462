package salesforce

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

func TestAutoHint(t *testing.T) {
	cases := []struct {
		api  string
		hint sink.Hint
		want string
	}{
		{APIAuto, sink.Hint{Records: 10, Final: true}, APIREST},
		{APIAuto, sink.Hint{Records: 0, Final: true}, APIREST},
		{APIAuto, sink.Hint{Records: 99, Final: true}, APIREST},
		{APIAuto, sink.Hint{Records: 100, Final: true}, APIBulk},
		{APIAuto, sink.Hint{Records: 10, Final: false}, APIBulk},
		{APIBulk, sink.Hint{Records: 1, Final: true}, APIBulk},
		{APIREST, sink.Hint{Records: 100000, Final: false}, APIREST},
	}
	for _, c := range cases {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", Options{API: c.api, AutoThreshold: 100})
		require.NoError(t, s.Hint(context.Background(), c.hint))
		// A second hint does not change the decision.
		require.NoError(t, s.Hint(context.Background(), sink.Hint{Records: 1 << 20}))
		assert.Equal(t, c.want, s.Stats().API, "%s %+v", c.api, c.hint)
		requireOK(t, write(t, s, nameRecs(3, "K")))
		if c.want == APIREST {
			assert.Empty(t, srv.Jobs())
		} else {
			assert.Len(t, srv.Jobs(), 1)
			assert.Equal(t, []string{srv.Jobs()[0].ID}, s.Stats().Jobs)
		}
	}
}

func TestBatching(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", Options{})
	n, conc := s.Batching()
	assert.Equal(t, 30_000, n)
	assert.Equal(t, 2, conc)
	rest := emuSink(t, emuClient(t, srv), "Account", Insert, "", Options{API: APIREST, RESTConcurrency: 3})
	n, conc = rest.Batching()
	assert.Equal(t, 600, n, "one round of parallel calls")
	assert.Equal(t, 2, conc)
	hard := emuSink(t, emuClient(t, srv), "Account", HardDelete, "", Options{API: APIREST})
	n, _ = hard.Batching()
	assert.Equal(t, 30_000, n, "hard delete goes through Bulk")
	assert.NoError(t, s.Close(context.Background()))
}

// Records of several layouts in one Write are written group by group,
// results in input order.
func TestWriteMixedLayouts(t *testing.T) {
	for _, api := range apis {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(api))
		other := sink.NewLayout([]string{"External_Id__c", "Name", "Phone"}, nil)
		in := append(nameRecs(2, "A"), recs(other, []any{"B-0", "B", "123"})...)
		in = append(in, nameRecs(1, "C")...)
		res := write(t, s, in)
		requireOK(t, res)
		got := byExt(srv, "Account")
		for i, k := range []string{"A-0", "A-1", "B-0", "C-0"} {
			assert.Equal(t, got[k]["Id"], res[i].ID, "%s %s", api, k)
		}
		assert.Equal(t, "123", got["B-0"]["Phone"])
	}
}

func TestWriteEdgeCases(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
	res, err := s.Write(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, res)
	assert.Empty(t, srv.Requests(), "an empty write does nothing")

	_, err = s.Write(context.Background(), []sink.Record{{Values: []sink.Value{sink.TextValue("x")}}})
	assert.ErrorContains(t, err, "without a layout")

	l := sink.NewLayout([]string{"Name", "Phone"}, nil)
	_, err = s.Write(context.Background(), recs(l, []any{nil, nil}))
	assert.ErrorContains(t, err, "no record sends any field")

	del := emuSink(t, emuClient(t, srv), "Account", Delete, "", fastOptions(APIBulk))
	_, err = del.Write(context.Background(), recs(l, []any{"x", nil}))
	assert.ErrorContains(t, err, "needs the Id field")

	// A lone empty cell stays a row: the record fails alone instead of vanishing.
	id := seed(t, srv, "Account", map[string]any{"Name": "x"})
	res = write(t, del, recs(sink.NewLayout([]string{"Id"}, nil), []any{id}, []any{nil}))
	assert.Nil(t, res[0].Err)
	require.NotNil(t, res[1].Err)
	assert.NotEqual(t, CodeOutcomeUnknown, res[1].Err.Code)
}
