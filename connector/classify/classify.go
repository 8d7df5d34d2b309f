package classify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"go.yaml.in/yaml/v3"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

// Version is the rules file version this build reads.
const Version = 1

// Result is how a failure is classified.
type Result struct {
	// Class is the failure's error class.
	Class connectorv1.ErrorClass
	// AlertType is the snake_case alert type.
	AlertType string
	// RuleID is the id of the rule that matched, or FallbackRuleID.
	RuleID string
	// Immediate is true when the alert type is notified at once, bypassing digests.
	Immediate bool
}

// Classifier classifies failures with a table of rules. It is immutable and safe for concurrent
// use.
type Classifier struct {
	rules     []*compiled
	immediate map[string]struct{}
	fallback  Outcome
	fbClass   connectorv1.ErrorClass
}

// Config is a rules file, decoded. See the package documentation for what each field means.
type Config struct {
	// Version must be 1.
	Version int `yaml:"version"`
	// ReplaceDefaults makes Rules the whole table; by default they extend the built-in rules.
	ReplaceDefaults bool `yaml:"replace_defaults,omitempty"`
	// Disable names built-in rules to drop when extending.
	Disable []string `yaml:"disable,omitempty"`
	// Immediate, when not nil, is the whole list of alert types notified at once.
	Immediate []string `yaml:"immediate,omitempty"`
	// Fallback, when not nil, replaces the built-in fallback.
	Fallback *Outcome `yaml:"fallback,omitempty"`
	// Rules are the file's rules, in order.
	Rules []Rule `yaml:"rules"`
}

// Default returns the classifier with the built-in rules.
func Default() *Classifier {
	c, err := New(Config{Version: Version, ReplaceDefaults: true, Rules: defaultRules})
	if err != nil {
		panic(fmt.Sprintf("classify: the built-in rules are invalid: %v", err))
	}
	return c
}

// DefaultConfig returns the built-in table as a Config (what rules.example.yaml holds).
func DefaultConfig() Config {
	rules := make([]Rule, len(defaultRules))
	for i, r := range defaultRules {
		rules[i] = cloneRule(r)
	}
	fb := defaultFallback
	return Config{
		Version:         Version,
		ReplaceDefaults: true,
		Immediate:       slices.Clone(defaultImmediate),
		Fallback:        &fb,
		Rules:           rules,
	}
}

// Load reads a rules file.
func Load(path string) (*Classifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("classify: %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a rules file's content. Unknown keys are errors; every invalid rule is reported.
func Parse(data []byte) (*Classifier, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{Rule: -1, Field: "version", Reason: "the file is empty"}
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return New(cfg)
}

// New returns a classifier for cfg, or every problem in it, joined.
func New(cfg Config) (*Classifier, error) {
	var errs []error
	top := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Rule: -1, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case cfg.Version == 0:
		top("version", "is required (%d)", Version)
	case cfg.Version != Version:
		top("version", "%d is not supported; this build reads version %d", cfg.Version, Version)
	}
	if cfg.ReplaceDefaults && len(cfg.Rules) == 0 {
		top("rules", "replace_defaults is set but there are no rules")
	}

	c := &Classifier{fallback: defaultFallback, immediate: make(map[string]struct{})}
	fileIDs := make(map[string]int, len(cfg.Rules))
	for i, r := range cfg.Rules {
		rc, problems := compile(i, r)
		errs = append(errs, problems...)
		if first, dup := fileIDs[r.ID]; dup && r.ID != "" {
			errs = append(errs, &ConfigError{Rule: i, RuleID: r.ID, Field: "id", Reason: fmt.Sprintf("already used by rules[%d]", first)})
		} else {
			fileIDs[r.ID] = i
		}
		if r.Match.empty() && i < len(cfg.Rules)-1 {
			errs = append(errs, &ConfigError{Rule: i, RuleID: r.ID, Field: "match",
				Reason: fmt.Sprintf("is empty, so the rule matches every failure and the %d rules after it never match", len(cfg.Rules)-1-i)})
		}
		c.rules = append(c.rules, rc)
	}

	if cfg.ReplaceDefaults {
		if len(cfg.Disable) > 0 {
			top("disable", "only applies when extending the built-in rules (replace_defaults is set)")
		}
	} else {
		disabled := make(map[string]struct{}, len(cfg.Disable))
		for i, id := range cfg.Disable {
			if !slices.ContainsFunc(defaultRules, func(r Rule) bool { return r.ID == id }) {
				top(fmt.Sprintf("disable[%d]", i), "%q is not a built-in rule", id)
			}
			disabled[id] = struct{}{}
		}
		for _, r := range defaultRules {
			_, off := disabled[r.ID]
			_, overridden := fileIDs[r.ID]
			if off || overridden {
				continue
			}
			rc, problems := compile(-1, r)
			if len(problems) > 0 {
				return nil, errors.Join(problems...)
			}
			c.rules = append(c.rules, rc)
		}
	}

	immediate := defaultImmediate
	if cfg.Immediate != nil {
		immediate = cfg.Immediate
	}
	for i, t := range immediate {
		if !alertTypeRE.MatchString(t) {
			top(fmt.Sprintf("immediate[%d]", i), "%q must be a snake_case alert type (%s)", t, alertTypeRE)
		}
		c.immediate[t] = struct{}{}
	}

	if cfg.Fallback != nil {
		c.fallback = *cfg.Fallback
	}
	c.fbClass = checkOutcome(c.fallback, func(field, format string, args ...any) {
		top("fallback."+field, format, args...)
	})

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Classify returns the class and alert type of a failure: the first matching rule's, or the
// fallback's. A nil report gets the fallback.
func (c *Classifier) Classify(f *connectorv1.RecordFailed) Result {
	for _, r := range c.rules {
		if f != nil && r.matches(f) {
			return Result{Class: r.class, AlertType: r.rule.AlertType, RuleID: r.rule.ID, Immediate: c.Immediate(r.rule.AlertType)}
		}
	}
	return Result{Class: c.fbClass, AlertType: c.fallback.AlertType, RuleID: FallbackRuleID, Immediate: c.Immediate(c.fallback.AlertType)}
}

// Immediate reports whether alerts of the type are notified at once, bypassing digests.
func (c *Classifier) Immediate(alertType string) bool {
	_, ok := c.immediate[alertType]
	return ok
}

// Rules returns the classifier's rules in the order they are tried.
func (c *Classifier) Rules() []Rule {
	out := make([]Rule, len(c.rules))
	for i, r := range c.rules {
		out[i] = cloneRule(r.rule)
	}
	return out
}

// ImmediateTypes returns the alert types notified at once, sorted.
func (c *Classifier) ImmediateTypes() []string {
	out := make([]string, 0, len(c.immediate))
	for t := range c.immediate {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Fallback returns what applies when no rule matches.
func (c *Classifier) Fallback() Outcome { return c.fallback }

func cloneRule(r Rule) Rule {
	r.Match.Systems = slices.Clone(r.Match.Systems)
	r.Match.SystemKinds = slices.Clone(r.Match.SystemKinds)
	r.Match.RecordKinds = slices.Clone(r.Match.RecordKinds)
	r.Match.Codes = slices.Clone(r.Match.Codes)
	r.Match.HTTPStatus = slices.Clone(r.Match.HTTPStatus)
	return r
}
