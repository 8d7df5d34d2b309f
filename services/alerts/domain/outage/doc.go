// Package outage is connection-outage detection (DESIGN.md §1, "Connection outage"): one
// Detector aggregate per connection, stored as evt.outage.<account>.<connection id>.<EventType>
// (account = the connection's owner).
//
// While the connection is up, every failure of a transient or auth class counts its record in a
// sliding window (ConnectionFailureObserved); records whose last counted failure is older than
// Config.Window drop out. When Config.Threshold distinct records are in the window (default 20
// in 5 minutes) the connection goes down (ConnectionDown, covering those records): the app raises
// the connection's connection_down alert and flags the covered records' alerts. While down,
// each further failing record joins the covered set (RecordCoveredByOutage). The first success
// of any record of the connection (succeeded at or after the outage began) ends the outage
// (ConnectionRecovered, listing the covered records). Sync cycles do not end an outage: a cycle
// starting says nothing about whether the system answers.
//
// State stays bounded: the window holds fewer than Threshold records (reaching it ends the
// window), and an outage lists at most Config.MaxListed covered records — past that they are
// only counted, ConnectionRecovered says covered_truncated, and the app finds the rest from
// RecordCoveredByOutage events or the alerts read model. A record that fails again within half a
// window of its counted failure is not counted again (its entry would barely move), which keeps
// a busy connection's stream small.
//
// Folding depends on the events alone: window pruning uses the window_start each
// ConnectionFailureObserved carries, and listing uses RecordCoveredByOutage.listed.
package outage
