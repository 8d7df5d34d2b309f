package projections

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/reboundhq/rebound/events"
)

// Access is what a query may see: the tenant isolation the gRPC layer derives from the caller
// (rpc/auth.ListFilter) and passes to every read-model query. The zero Access sees nothing: a
// query refuses it, so a forgotten access check cannot leak every account.
type Access struct {
	// All sees every account (admin keys). Account and Warehouse still narrow it when set.
	All bool
	// Account, when set, keeps only rows of this account.
	Account string
	// Warehouse, when set, keeps only rows of this warehouse account or of merchants whose
	// warehouse it is.
	Warehouse string
}

// AllAccounts is the access of an admin: every account.
func AllAccounts() Access { return Access{All: true} }

// Validate reports whether the access says what it covers.
func (a Access) Validate() error {
	if !a.All && a.Account == "" && a.Warehouse == "" {
		return &events.InvalidArgumentError{Field: "access", Reason: "names no account or warehouse and is not for all accounts"}
	}
	return nil
}

// ScopeOf returns the warehouse scope of a row: the warehouse that serves the row's merchant, or
// the row's own account when it has none (a warehouse's own rows, a merchant without one). A
// warehouse sees exactly the rows whose scope is its account, since its own rows carry no
// warehouse id; read models store it in a scope_id column and index it.
func ScopeOf(account, warehouse string) string {
	if warehouse != "" {
		return warehouse
	}
	return account
}

// Where returns the SQL condition (with ? placeholders, ANDed terms, "1=1" for all accounts) that
// restricts a table with the given account and scope columns to what a sees.
func (a Access) Where(accountCol, scopeCol string) (string, []any, error) {
	if err := a.Validate(); err != nil {
		return "", nil, err
	}
	var (
		cond string
		args []any
	)
	add := func(c string, v any) {
		if cond != "" {
			cond += " AND "
		}
		cond += c
		args = append(args, v)
	}
	if a.Account != "" {
		add(accountCol+" = ?", a.Account)
	}
	if a.Warehouse != "" {
		add(scopeCol+" = ?", a.Warehouse)
	}
	if cond == "" {
		cond = "1=1"
	}
	return cond, args, nil
}

// Page asks for one page of a list.
type Page struct {
	// Size is the most rows to return; 0 means DefaultPageSize, more than MaxPageSize is
	// MaxPageSize.
	Size int
	// Cursor is the NextCursor of the previous page; empty for the first page.
	Cursor string
}

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Limit returns the page size to use.
func (p Page) Limit() (int, error) {
	switch {
	case p.Size < 0:
		return 0, &events.InvalidArgumentError{Field: "page_size", Reason: fmt.Sprintf("%d is negative", p.Size)}
	case p.Size == 0:
		return DefaultPageSize, nil
	}
	return min(p.Size, MaxPageSize), nil
}

// Cursor is a keyset position in a sorted list: the sort keys of the last row of a page. Lists
// stay stable under inserts: the next page starts strictly after that row in the sort order.
type Cursor struct {
	// List names the list and its order, so a cursor is not used with another one.
	List string `json:"l"`
	// Time is the row's time sort key (Unix nanoseconds).
	Time int64 `json:"t,omitempty"`
	// Keys are the row's remaining sort keys (its id).
	Keys []string `json:"k,omitempty"`
	// N is the row's numeric tie-breaker (an incarnation).
	N int64 `json:"n,omitempty"`
}

// Encode returns the cursor as an opaque token.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a token from Encode for the list named list. A token that is malformed or
// belongs to another list (or order) is an events.ErrInvalidArgument naming the cursor.
func DecodeCursor(token, list string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	var c Cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return Cursor{}, &events.InvalidArgumentError{Field: "cursor", Reason: "is not a cursor this service returned"}
	}
	if c.List != list {
		return Cursor{}, &events.InvalidArgumentError{Field: "cursor", Reason: "belongs to another list or sort order"}
	}
	return c, nil
}
