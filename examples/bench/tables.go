package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
)

func goVersion() string { return runtime.Version() }
func numCPU() int       { return runtime.NumCPU() }

type key struct {
	api  string
	rows int
}

// group collects the runs of each load by tool, in the order they ran.
func group(all []measurement) ([]key, map[key]map[string][]measurement) {
	var keys []key
	g := map[key]map[string][]measurement{}
	for _, m := range all {
		k := key{m.API, m.Rows}
		if g[k] == nil {
			g[k] = map[string][]measurement{}
			keys = append(keys, k)
		}
		g[k][m.Tool] = append(g[k][m.Tool], m)
	}
	return keys, g
}

// cell prints a median, with the range when there were several runs.
func cell(ms []measurement, format string, f func(measurement) float64) string {
	mid, lo, hi := median(ms, f)
	if len(ms) == 1 || lo == hi {
		return fmt.Sprintf(format, mid)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", mid, lo, hi)
}

// printTables writes the figures as Markdown tables: one line per load
// and tool, then the ratios retl/jsforce and the targets.
func printTables(w io.Writer, all []measurement, o options) {
	keys, g := group(all)
	fmt.Fprintln(w, "| API | rows | client | wall s | rows/s | CPU s | peak heap MB | peak RSS MB | MB sent | API calls | jobs | emulator s | wall/emulator |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range keys {
		for _, tool := range []string{"retl", "jsforce", "go-salesforce"} {
			ms := g[k][tool]
			if len(ms) == 0 {
				continue
			}
			heap, emu, ratio, jobs := "–", "–", "–", "–"
			if ms[0].PeakHeap > 0 {
				heap = cell(ms, "%.0f", func(m measurement) float64 { return mb(m.PeakHeap) })
			}
			if ms[0].EmuBusy > 0 {
				emu = cell(ms, "%.2f", func(m measurement) float64 { return m.EmuBusy })
				ratio = cell(ms, "%.2f", func(m measurement) float64 { return m.Wall / m.EmuBusy })
				jobs = cell(ms, "%.0f", func(m measurement) float64 { return float64(m.Jobs) })
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				k.api, thousands(k.rows), tool,
				cell(ms, "%.2f", func(m measurement) float64 { return m.Wall }),
				cell(ms, "%.0f", measurement.rowsPerSec),
				cell(ms, "%.2f", func(m measurement) float64 { return m.CPU }),
				heap,
				cell(ms, "%.0f", func(m measurement) float64 { return mb(m.PeakRSS) }),
				cell(ms, "%.1f", func(m measurement) float64 { return mb(m.BytesUp) }),
				cell(ms, "%.0f", func(m measurement) float64 { return float64(m.Calls) }),
				jobs, emu, ratio)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| API | rows | CPU retl/jsforce | peak RSS retl/jsforce | wall retl/jsforce |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, k := range keys {
		r, j := g[k]["retl"], g[k]["jsforce"]
		if len(r) == 0 || len(j) == 0 {
			continue
		}
		ratio := func(f func(measurement) float64) string {
			a, _, _ := median(r, f)
			b, _, _ := median(j, f)
			return fmt.Sprintf("%.3f", a/b)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k.api, thousands(k.rows),
			ratio(func(m measurement) float64 { return m.CPU }),
			ratio(func(m measurement) float64 { return float64(m.PeakRSS) }),
			ratio(func(m measurement) float64 { return m.Wall }))
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| API | rows | CPU retl/go-salesforce | peak RSS retl/go-salesforce | wall retl/go-salesforce |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, k := range keys {
		r, p := g[k]["retl"], g[k]["go-salesforce"]
		if len(r) == 0 || len(p) == 0 {
			continue
		}
		ratio := func(f func(measurement) float64) string {
			a, _, _ := median(r, f)
			b, _, _ := median(p, f)
			return fmt.Sprintf("%.3f", a/b)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k.api, thousands(k.rows),
			ratio(func(m measurement) float64 { return m.CPU }),
			ratio(func(m measurement) float64 { return float64(m.PeakRSS) }),
			ratio(func(m measurement) float64 { return m.Wall }))
	}

	fmt.Fprintln(w)
	targets(w, g)
}

// targets checks the figures against the goals for 1M and 5M Bulk rows.
func targets(w io.Writer, g map[key]map[string][]measurement) {
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	one := g[key{"bulk", 1_000_000}]
	if r := one["retl"]; len(r) > 0 {
		cpu, _, _ := median(r, func(m measurement) float64 { return m.CPU })
		if j := one["jsforce"]; len(j) > 0 {
			jcpu, _, _ := median(j, func(m measurement) float64 { return m.CPU })
			fmt.Fprintf(w, "target: Bulk 1M client CPU <= 1/5 of jsforce: %.3f, %s\n", cpu/jcpu, check(cpu/jcpu <= 0.2))
		}
		if p := one["go-salesforce"]; len(p) > 0 {
			pcpu, _, _ := median(p, func(m measurement) float64 { return m.CPU })
			fmt.Fprintf(w, "target: Bulk 1M client CPU <= 1/3 of go-salesforce: %.3f, %s\n", cpu/pcpu, check(cpu/pcpu <= 1.0/3))
		}
		ratio, _, _ := median(r, func(m measurement) float64 { return m.Wall / m.EmuBusy })
		fmt.Fprintf(w, "target: Bulk 1M wall <= 1.5x emulator processing: %.2f, %s\n", ratio, check(ratio <= 1.5))
		rss, _, _ := median(r, func(m measurement) float64 { return mb(m.PeakRSS) })
		fmt.Fprintf(w, "target: Bulk 1M peak RSS < 200 MB: %.0f MB, %s\n", rss, check(rss < 200))
		if five := g[key{"bulk", 5_000_000}]["retl"]; len(five) > 0 {
			rss5, _, _ := median(five, func(m measurement) float64 { return mb(m.PeakRSS) })
			fmt.Fprintf(w, "target: Bulk 5M peak RSS <= 1.2x 1M: %.0f MB = %.2fx, %s\n", rss5, rss5/rss, check(rss5 <= 1.2*rss))
		}
	}
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
