// Package bench measures Rebound against raw JetStream on one embedded server in one run, so a
// noisy machine cancels out of the ratios. `rebound bench` (and `make bench`) runs it.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Result is one figure. Its JSON form is the bench-results.json contract (DESIGN.md §3).
type Result struct {
	Name          string   `json:"name"`
	Value         float64  `json:"value"`
	Unit          string   `json:"unit"`
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue float64  `json:"baseline_value,omitempty"`
	Ratio         float64  `json:"ratio,omitempty"`
	Target        *float64 `json:"target"`
	// atMost marks a figure whose target is a ceiling on the value itself (a latency), not a
	// floor on the ratio to its baseline.
	atMost bool
}

// Met reports whether the result reaches its target; results without one always do.
func (r Result) Met() bool {
	switch {
	case r.Target == nil:
		return true
	case r.atMost:
		return r.Value <= *r.Target
	}
	return r.Ratio >= *r.Target
}

// withCeiling gives r a target the value itself must not exceed.
func (r Result) withCeiling(limit float64) Result {
	r.Target, r.atMost = target(limit), true
	return r
}

func target(v float64) *float64 { return &v }

// withBaseline fills in the baseline and the ratio of r to it.
func (r Result) withBaseline(b Result, tgt *float64) Result {
	r.Baseline, r.BaselineValue, r.Target = b.Name, b.Value, tgt
	if b.Value > 0 {
		r.Ratio = r.Value / b.Value
	}
	return r
}

// WriteJSON writes the results to path as a JSON array.
func WriteJSON(path string, results []Result) error {
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints the results as a table for people.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-82s %14s %-8s %8s %8s  %s\n", "figure", "value", "unit", "ratio", "target", "")
	fmt.Fprintln(w, strings.Repeat("-", 130))
	for _, r := range results {
		ratio, tgt, verdict := "", "", ""
		if r.Baseline != "" {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
			if r.Ratio < 0.1 {
				ratio = fmt.Sprintf("%.4f", r.Ratio)
			}
		}
		if r.Target != nil {
			tgt = fmt.Sprintf("≥ %.2f", *r.Target)
			if r.atMost {
				tgt = fmt.Sprintf("≤ %g", *r.Target)
			}
			verdict = "met"
			if !r.Met() {
				verdict = "NOT MET"
			}
		}
		fmt.Fprintf(w, "%-82s %14.1f %-8s %8s %8s  %s\n", r.Name, r.Value, r.Unit, ratio, tgt, verdict)
		if r.Baseline != "" {
			fmt.Fprintf(w, "    of %s\n", r.Baseline)
		}
	}
}
