package transform

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkArena sets the arena beside the plain way of making a string
// per formatted value (one buffer reused, the text copied out), on the
// values a row of examples/bench formats: an integer, a decimal's float
// form, a date and a date-time. A batch of rows keeps its strings, as
// records keep their values until the sink has written them.
func BenchmarkArena(b *testing.B) {
	const rows = 1000
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)
	out := make([]string, 0, 4*rows)
	b.Run("arena", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var a arena
			out = out[:0]
			for i := range rows {
				t := t0.Add(time.Duration(i) * time.Minute)
				s, _ := dateTimeText(t, &a)
				out = append(out,
					a.commit(strconv.AppendInt(a.free(20), int64(i), 10)),
					a.commit(strconv.AppendFloat(a.free(24), float64(i)+0.5, 'f', -1, 64)),
					a.commit(appendDate(a.free(10), t.Year(), int(t.Month()), t.Day())),
					s)
			}
		}
		b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf := make([]byte, 0, 64)
			out = out[:0]
			for i := range rows {
				t := t0.Add(time.Duration(i) * time.Minute)
				// One statement each: a conversion inside a call's arguments
				// may run after a later argument has reused buf.
				n := string(strconv.AppendInt(buf[:0], int64(i), 10))
				f := string(strconv.AppendFloat(buf[:0], float64(i)+0.5, 'f', -1, 64))
				d := string(appendDate(buf[:0], t.Year(), int(t.Month()), t.Day()))
				out = append(out, n, f, d, plainDateTime(t, &buf))
			}
		}
		b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	})
	if len(out) != 4*rows || out[4] != "1" || out[5] != "1.5" || out[6] != "2024-05-01" || out[7] != "2024-05-01T10:01:00.123Z" {
		b.Fatalf("formatted %d values: %q", len(out), out[4:8])
	}
}

// plainDateTime is dateTimeText with the text copied out of a reused
// buffer instead of cut from an arena.
func plainDateTime(t time.Time, buf *[]byte) string {
	var a arena
	a.buf = (*buf)[:0]
	s, _ := dateTimeText(t, &a)
	return strings.Clone(s)
}
