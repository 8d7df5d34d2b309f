package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// apiError is the error body both servers answer with.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: apiErrorBody{Code: code, Message: msg}})
}

// decode reads a JSON request body into v, answering 400 when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("Request body is larger than %d bytes", maxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "Request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// authorized checks the bearer token when the server requires one, answering 401 otherwise.
func authorized(w http.ResponseWriter, r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got != token {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Missing or invalid API token")
		return false
	}
	return true
}

// Stats counts what a server did since it started (or was reset).
type Stats struct {
	// Requests counts API requests (not admin ones).
	Requests int64 `json:"requests"`
	// Created counts records created (orders, fulfillments, inventory updates).
	Created int64 `json:"created"`
	// Duplicates counts repeats answered from the idempotency key.
	Duplicates int64 `json:"duplicates"`
	// Rejected counts requests answered with a validation error (4xx) of the server's own.
	Rejected int64 `json:"rejected"`
	// Injected counts requests a failure mode affected.
	Injected int64 `json:"injected"`
}

type counters struct {
	requests, created, duplicates, rejected atomic.Int64
}

func (c *counters) reset() {
	c.requests.Store(0)
	c.created.Store(0)
	c.duplicates.Store(0)
	c.rejected.Store(0)
}

// adminFailures mounts the failure-mode endpoints every server shares.
func adminFailures(mux *http.ServeMux, f *faults, onChange func(conn string, fl *Failure)) {
	mux.HandleFunc("GET /admin/failures", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.list())
	})
	mux.HandleFunc("PUT /admin/failures/{connection}", func(w http.ResponseWriter, r *http.Request) {
		var fl Failure
		if !decode(w, r, &fl) {
			return
		}
		conn := r.PathValue("connection")
		stored, err := f.set(conn, fl)
		if err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_FAILURE_MODE", err.Error())
			return
		}
		onChange(conn, &stored)
		writeJSON(w, http.StatusOK, stored)
	})
	mux.HandleFunc("DELETE /admin/failures/{connection}", func(w http.ResponseWriter, r *http.Request) {
		conn := r.PathValue("connection")
		f.clear(conn)
		onChange(conn, nil)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /admin/failures", func(w http.ResponseWriter, r *http.Request) {
		f.clearAll()
		onChange(AllConnections, nil)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
