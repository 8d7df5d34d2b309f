package classify_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/connector/classify"
)

func TestExampleFile_equalsDefaults(t *testing.T) {
	t.Parallel()
	c, err := classify.Load("rules.example.yaml")
	if err != nil {
		t.Fatalf("Load(rules.example.yaml): %v", err)
	}
	def := classify.Default()
	if got, want := c.Rules(), def.Rules(); !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w classify.Rule
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("rules.example.yaml differs from the built-in rules at rules[%d]:\n file %+v\n code %+v", i, g, w)
			}
		}
	}
	if got, want := c.ImmediateTypes(), def.ImmediateTypes(); !reflect.DeepEqual(got, want) {
		t.Errorf("immediate: file %v, code %v", got, want)
	}
	if got, want := c.Fallback(), def.Fallback(); got != want {
		t.Errorf("fallback: file %+v, code %+v", got, want)
	}
	if !reflect.DeepEqual(classify.DefaultConfig().Rules, def.Rules()) {
		t.Error("DefaultConfig().Rules differs from Default().Rules()")
	}
}

func TestParse_extendsDefaults(t *testing.T) {
	t.Parallel()
	c, err := classify.Parse([]byte(`
version: 1
disable: [cart-unavailable-message]
rules:
  - id: acme-wms-maintenance
    match: {systems: [ACME-WMS], http_status: [503], message: maintenance}
    class: transient
    alert_type: wms_maintenance
  - id: server-error            # overrides the built-in rule of that id, at this position
    match: {http_status: [500-503]}
    class: transient
    alert_type: wms_down
`))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0)
	for _, r := range c.Rules() {
		ids = append(ids, r.ID)
	}
	if ids[0] != "acme-wms-maintenance" || ids[1] != "server-error" {
		t.Fatalf("file rules must come first; got %v", ids[:3])
	}
	for _, id := range ids[2:] {
		if id == "server-error" || id == "cart-unavailable-message" {
			t.Fatalf("rule %q should be overridden or disabled; rules %v", id, ids)
		}
	}
	if want := len(classify.Default().Rules()); len(ids) != want {
		t.Fatalf("%d rules, want %d (two added, one replaced, one disabled)", len(ids), want)
	}
	cases := []struct {
		in   string
		got  classify.Result
		rule string
		typ  string
	}{
		{"acme maintenance", c.Classify(failure(2, "acme-wms", 503, "", "Scheduled maintenance")), "acme-wms-maintenance", "wms_maintenance"},
		{"other system 503", c.Classify(failure(2, "sandbox-wms", 503, "", "Service Unavailable")), "server-error", "wms_down"},
		{"built-in still there", c.Classify(failure(2, "sandbox-wms", 429, "", "slow down")), "rate-limited-status", "rate_limited"},
		{"disabled rule", c.Classify(failure(1, "shopify", 0, "", "Store is in maintenance mode")), classify.FallbackRuleID, "unknown_failure"},
	}
	for _, tc := range cases {
		if tc.got.RuleID != tc.rule || tc.got.AlertType != tc.typ {
			t.Errorf("%s: got %+v, want rule %s type %s", tc.in, tc.got, tc.rule, tc.typ)
		}
	}
}

func TestParse_replacesDefaults(t *testing.T) {
	t.Parallel()
	c, err := classify.Parse([]byte(`
version: 1
replace_defaults: true
immediate: []
fallback: {class: rejected, alert_type: unclassified}
rules:
  - id: only
    match: {codes: [boom]}
    class: auth
    alert_type: auth_failed
`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Rules()); n != 1 {
		t.Fatalf("%d rules, want 1", n)
	}
	if got := c.Classify(wms(0, "BOOM", "x")); got != (classify.Result{Class: auth, AlertType: "auth_failed", RuleID: "only"}) {
		t.Errorf("code match: %+v (immediate must be off: the list is empty)", got)
	}
	if got := c.Classify(wms(503, "", "Service Unavailable")); got != (classify.Result{Class: rejected, AlertType: "unclassified", RuleID: classify.FallbackRuleID}) {
		t.Errorf("fallback: %+v", got)
	}
}

func TestParse_reportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := classify.Parse([]byte(`
version: 1
disable: [no-such-rule]
immediate: [Not-Snake]
fallback: {class: sometimes, alert_type: x}
rules:
  - id: Bad_ID
    class: transient
    alert_type: timeout
  - id: everything
    class: transient
    alert_type: timeout
  - id: broken
    match:
      system_kinds: [erp]
      record_kinds: [invoice]
      http_status: [6xx, 200-100, 42, abc]
      message: "(unclosed"
      codes: [""]
    class: nope
    alert_type: NotSnake
  - id: broken
    match: {http_status: [500]}
    alert_type: server_error
`))
	if !errors.Is(err, classify.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	want := []struct{ rule, field string }{
		{"", "disable[0]"},
		{"", "immediate[0]"},
		{"", "fallback.class"},
		{"Bad_ID", "id"},
		{"Bad_ID", "match"}, // an empty match before other rules hides them
		{"everything", "match"},
		{"broken", "match.system_kinds[0]"},
		{"broken", "match.record_kinds[0]"},
		{"broken", "match.http_status[0]"},
		{"broken", "match.http_status[1]"},
		{"broken", "match.http_status[2]"},
		{"broken", "match.http_status[3]"},
		{"broken", "match.message"},
		{"broken", "match.codes[0]"},
		{"broken", "class"},
		{"broken", "alert_type"},
		{"broken", "id"}, // used twice
	}
	got := problems(err)
	for _, w := range want {
		if !got[w.rule+"|"+w.field] {
			t.Errorf("no problem reported for rule %q field %q; got:\n%v", w.rule, w.field, err)
		}
	}
	if !strings.Contains(err.Error(), `rule "broken" (rules[3]): class:`) {
		t.Errorf("error text does not name the rule and field:\n%v", err)
	}
	if len(got) < len(want) {
		t.Errorf("%d problems, want at least %d", len(got), len(want))
	}
}

// problems returns "ruleID|field" for every ConfigError joined in err.
func problems(err error) map[string]bool {
	out := make(map[string]bool)
	var walk func(error)
	walk = func(e error) {
		var ce *classify.ConfigError
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
		} else if errors.As(e, &ce) {
			out[ce.RuleID+"|"+ce.Field] = true
		}
	}
	walk(err)
	return out
}

func TestParse_fileLevelErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		yaml, want string
	}{
		"no version":       {"rules: []\n", "version: is required"},
		"unknown version":  {"version: 2\nrules: []\n", "version: 2 is not supported"},
		"empty file":       {"", "the file is empty"},
		"unknown key":      {"version: 1\nrulez: []\n", "field rulez not found"},
		"unknown matcher":  {"version: 1\nrules:\n  - id: a\n    match: {status: [500]}\n    class: transient\n    alert_type: x\n", "field status not found"},
		"replace, no rule": {"version: 1\nreplace_defaults: true\n", "there are no rules"},
		"disable+replace":  {"version: 1\nreplace_defaults: true\ndisable: [server-error]\nrules: [{id: a, class: transient, alert_type: x}]\n", "only applies when extending"},
		"not yaml":         {"version: [1\n", "did not find expected"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := classify.Parse([]byte(tc.yaml))
			if !errors.Is(err, classify.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoad_namesTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte("version: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := classify.Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, classify.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an ErrInvalidConfig naming %s", err, path)
	}
	if _, err := classify.Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want ErrNotExist", err)
	}
}
