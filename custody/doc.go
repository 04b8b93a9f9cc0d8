// Package custody owns the custody log's schema: every record type the
// sink, the orchestrator and verification write, and the verdict model
// that turns a case's records into one state per evidence file
// (verified, copied live, failed, not started, superseded, skipped, not
// collected). It does no I/O: hashlog keeps the chain and the files,
// and collect, verify and report all judge through this package, so the
// three can never disagree about what a case holds.
package custody
