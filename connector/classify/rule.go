package classify

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	connectorv1 "github.com/reboundhq/rebound/proto/gen/rebound/connector/v1"
)

// Rule maps the failures its Match selects to a class and an alert type. It is what the file
// holds; a Classifier keeps it compiled.
type Rule struct {
	// ID names the rule in results, logs and error messages ([a-z0-9][a-z0-9_.-]*, unique).
	ID string `yaml:"id"`
	// Match selects the failures the rule applies to; an empty Match selects every failure.
	Match Match `yaml:"match,omitempty"`
	// Class is the error class: transient, rate_limited, auth, manual_action or rejected.
	Class string `yaml:"class"`
	// AlertType is the snake_case alert type, e.g. "wms_unavailable".
	AlertType string `yaml:"alert_type"`
}

// Match holds a rule's matchers. Each is optional; set ones must all match, and a matcher with
// several values matches when any does.
type Match struct {
	// Systems are external system names (RecordRef.system), compared case-insensitively.
	Systems []string `yaml:"systems,omitempty"`
	// SystemKinds are "cart" or "wms".
	SystemKinds []string `yaml:"system_kinds,omitempty"`
	// RecordKinds are "order", "tracking", "inventory" or "product".
	RecordKinds []string `yaml:"record_kinds,omitempty"`
	// Codes are the external system's codes, compared case-insensitively.
	Codes []string `yaml:"codes,omitempty"`
	// HTTPStatus holds statuses ("429"), classes ("5xx") or inclusive ranges ("500-599").
	HTTPStatus []string `yaml:"http_status,omitempty"`
	// Message is a regular expression (RE2) searched in the message, case-insensitively.
	Message string `yaml:"message,omitempty"`
}

func (m Match) empty() bool {
	return len(m.Systems) == 0 && len(m.SystemKinds) == 0 && len(m.RecordKinds) == 0 &&
		len(m.Codes) == 0 && len(m.HTTPStatus) == 0 && m.Message == ""
}

// Outcome is a class and an alert type, as the fallback names them.
type Outcome struct {
	// Class is the error class name (see Rule.Class).
	Class string `yaml:"class"`
	// AlertType is the snake_case alert type.
	AlertType string `yaml:"alert_type"`
}

// ErrInvalidConfig is what every *ConfigError wraps.
var ErrInvalidConfig = errors.New("classify: invalid rules")

// ConfigError is one problem with a rules file or Config: which rule (when it is about one) and
// which field.
type ConfigError struct {
	// Rule is the rule's position in the file's rules (from 0), or -1 when the problem is not
	// about a rule.
	Rule int
	// RuleID is the rule's id, when it has one.
	RuleID string
	// Field is the field's path, e.g. "match.http_status[1]" or "version".
	Field string
	// Reason says what is wrong.
	Reason string
}

func (e *ConfigError) Error() string {
	switch {
	case e.Rule < 0:
		return fmt.Sprintf("classify: %s: %s", e.Field, e.Reason)
	case e.RuleID != "":
		return fmt.Sprintf("classify: rule %q (rules[%d]): %s: %s", e.RuleID, e.Rule, e.Field, e.Reason)
	}
	return fmt.Sprintf("classify: rules[%d]: %s: %s", e.Rule, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

var (
	ruleIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	alertTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

var classes = map[string]connectorv1.ErrorClass{
	ClassTransient:    connectorv1.ErrorClass_ERROR_CLASS_TRANSIENT,
	ClassRateLimited:  connectorv1.ErrorClass_ERROR_CLASS_RATE_LIMITED,
	ClassAuth:         connectorv1.ErrorClass_ERROR_CLASS_AUTH,
	ClassManualAction: connectorv1.ErrorClass_ERROR_CLASS_MANUAL_ACTION,
	ClassRejected:     connectorv1.ErrorClass_ERROR_CLASS_REJECTED,
}

var systemKinds = map[string]connectorv1.SystemKind{
	"cart": connectorv1.SystemKind_SYSTEM_KIND_CART,
	"wms":  connectorv1.SystemKind_SYSTEM_KIND_WMS,
}

var recordKinds = map[string]connectorv1.RecordKind{
	"order":     connectorv1.RecordKind_RECORD_KIND_ORDER,
	"tracking":  connectorv1.RecordKind_RECORD_KIND_TRACKING,
	"inventory": connectorv1.RecordKind_RECORD_KIND_INVENTORY,
	"product":   connectorv1.RecordKind_RECORD_KIND_PRODUCT,
}

// ParseClass returns the ErrorClass a class name (transient, rate_limited, auth,
// manual_action, rejected) stands for.
func ParseClass(name string) (connectorv1.ErrorClass, bool) {
	c, ok := classes[name]
	return c, ok
}

// compiled is a checked rule, ready to match.
type compiled struct {
	rule        Rule
	class       connectorv1.ErrorClass
	systems     map[string]struct{}
	systemKinds map[connectorv1.SystemKind]struct{}
	recordKinds map[connectorv1.RecordKind]struct{}
	codes       map[string]struct{}
	statuses    []statusRange
	message     *regexp.Regexp
}

type statusRange struct{ lo, hi int32 }

// compile checks r and returns it compiled, or every problem found (as *ConfigError with Rule
// set to index).
func compile(index int, r Rule) (*compiled, []error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Rule: index, RuleID: r.ID, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if r.ID == "" {
		bad("id", "is required")
	} else if !ruleIDRE.MatchString(r.ID) {
		bad("id", "%q must match %s", r.ID, ruleIDRE)
	}
	c := &compiled{rule: r}
	c.class = checkOutcome(Outcome{Class: r.Class, AlertType: r.AlertType}, bad)

	m := r.Match
	if len(m.Systems) > 0 {
		c.systems = make(map[string]struct{}, len(m.Systems))
		for i, s := range m.Systems {
			if strings.TrimSpace(s) == "" {
				bad(fmt.Sprintf("match.systems[%d]", i), "is empty")
			}
			c.systems[strings.ToLower(s)] = struct{}{}
		}
	}
	if len(m.SystemKinds) > 0 {
		c.systemKinds = make(map[connectorv1.SystemKind]struct{}, len(m.SystemKinds))
		for i, s := range m.SystemKinds {
			k, ok := systemKinds[s]
			if !ok {
				bad(fmt.Sprintf("match.system_kinds[%d]", i), "%q is not a system kind (cart, wms)", s)
			}
			c.systemKinds[k] = struct{}{}
		}
	}
	if len(m.RecordKinds) > 0 {
		c.recordKinds = make(map[connectorv1.RecordKind]struct{}, len(m.RecordKinds))
		for i, s := range m.RecordKinds {
			k, ok := recordKinds[s]
			if !ok {
				bad(fmt.Sprintf("match.record_kinds[%d]", i), "%q is not a record kind (order, tracking, inventory, product)", s)
			}
			c.recordKinds[k] = struct{}{}
		}
	}
	if len(m.Codes) > 0 {
		c.codes = make(map[string]struct{}, len(m.Codes))
		for i, s := range m.Codes {
			if strings.TrimSpace(s) == "" {
				bad(fmt.Sprintf("match.codes[%d]", i), "is empty")
			}
			c.codes[strings.ToLower(s)] = struct{}{}
		}
	}
	for i, s := range m.HTTPStatus {
		sr, err := parseStatus(s)
		if err != nil {
			bad(fmt.Sprintf("match.http_status[%d]", i), "%v", err)
			continue
		}
		c.statuses = append(c.statuses, sr)
	}
	if m.Message != "" {
		re, err := regexp.Compile("(?i)" + m.Message)
		if err != nil {
			bad("match.message", "%v", err)
		}
		c.message = re
	}
	return c, errs
}

// checkOutcome checks a class and an alert type, reporting through bad.
func checkOutcome(o Outcome, bad func(field, format string, args ...any)) connectorv1.ErrorClass {
	class, ok := classes[o.Class]
	switch {
	case o.Class == "":
		bad("class", "is required (transient, rate_limited, auth, manual_action or rejected)")
	case !ok:
		bad("class", "%q is not a class (transient, rate_limited, auth, manual_action or rejected)", o.Class)
	}
	switch {
	case o.AlertType == "":
		bad("alert_type", "is required")
	case !alertTypeRE.MatchString(o.AlertType):
		bad("alert_type", "%q must be snake_case (%s)", o.AlertType, alertTypeRE)
	}
	return class
}

// parseStatus reads "429", "5xx" or "500-599".
func parseStatus(s string) (statusRange, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	valid := func(n int64) bool { return n >= 100 && n <= 599 }
	if len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5' {
		lo := int32(s[0]-'0') * 100
		return statusRange{lo, lo + 99}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
		h, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
		if err1 != nil || err2 != nil || !valid(l) || !valid(h) || l > h {
			return statusRange{}, fmt.Errorf("%q is not a range of HTTP statuses (e.g. 500-599)", s)
		}
		return statusRange{int32(l), int32(h)}, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || !valid(n) {
		return statusRange{}, fmt.Errorf("%q is not an HTTP status (100-599), a class (5xx) or a range (500-599)", s)
	}
	return statusRange{int32(n), int32(n)}, nil
}

// matches reports whether every matcher of the rule matches f.
func (c *compiled) matches(f *connectorv1.RecordFailed) bool {
	ref := f.GetRecord()
	if c.systems != nil {
		if _, ok := c.systems[strings.ToLower(ref.GetSystem())]; !ok {
			return false
		}
	}
	if c.systemKinds != nil {
		if _, ok := c.systemKinds[ref.GetSystemKind()]; !ok {
			return false
		}
	}
	if c.recordKinds != nil {
		if _, ok := c.recordKinds[ref.GetRecordKind()]; !ok {
			return false
		}
	}
	if c.codes != nil {
		if _, ok := c.codes[strings.ToLower(strings.TrimSpace(f.GetCode()))]; !ok {
			return false
		}
	}
	if len(c.statuses) > 0 {
		st, hit := f.GetHttpStatus(), false
		for _, r := range c.statuses {
			if st >= r.lo && st <= r.hi {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if c.message != nil && !c.message.MatchString(f.GetMessage()) {
		return false
	}
	return true
}
