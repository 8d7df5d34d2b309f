// Package proto holds Rebound's protobuf contracts. The sources live under rebound/<area>/v1 and
// the generated Go code under gen/ (regenerate with `make proto`, never by hand).
package proto
