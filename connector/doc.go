// Package connector is the contract between Rebound and the connectors that report on records:
// how a record is keyed, which stream its reports are stored in, and how a report is validated.
// The ingest API, the ingest subjects and the orders service all go through it, so every path
// validates alike.
package connector
