// Package hashlog owns the custody log of a case: a tamper-evident,
// append-only JSON-lines file in which every event of an acquisition is a
// record chained to the one before it by SHA-256. It also verifies a case
// (the chain and every evidence file at rest) and exports the hashes the
// log recorded as a hashdeep known-file, md5sum/sha256sum lists and DFXML.
// OpenCase is the case's lifecycle: it opens a new or existing case for an
// examiner and records who opened it, with what, each time.
// It knows nothing about NFS or ESXi; the sink and the orchestrator only
// hand it records.
//
// # Case folder
//
//	CASE/custody.jsonl   the custody log (LogPath)
//	CASE/evidence/       evidence files, the NFS export root (EvidenceDir)
//	CASE/.esxsink/       private state of the sink, ignored here
//
// Paths inside records are relative to CASE/evidence with "/" separators
// (CheckEvidencePath).
//
// # Line format and hash chain
//
// Each line is one JSON object with its fields in this fixed order:
//
//	{"seq":1,"time":"2026-05-01T10:00:00.000000000Z","type":"case.opened","prev":"000…000","data":{…}}
//
// where
//
//   - seq counts records from 1 and grows by exactly one per record.
//   - time is RFC 3339 in UTC with exactly nine fractional digits, so every
//     line has one spelling and sorts as text.
//   - prev is the lower-case hex SHA-256 of the previous record's line as it
//     is stored, INCLUDING its trailing "\n"; the first record has 64 zeros
//     (GenesisPrev). Hashing the stored bytes, newline included, means an
//     examiner can check any link with standard tools:
//     sed -n 4p custody.jsonl | sha256sum  equals the prev of line 5.
//   - data is a JSON object whose shape depends on type (records.go); the
//     set of types is open, unknown types verify like any other.
//
// Lines are written by one write(2) each and synced (File.Sync) before
// Append returns. Verification also insists that each line is byte for byte
// what the writer would produce from its own fields (canonical form), which
// catches hand edits that change only spacing or key spelling.
//
// # What the chain can and cannot prove
//
// Editing, deleting, inserting or reordering any line except the last one
// breaks a link and is reported with the line number. Changing or removing
// the LAST line cannot be detected by the chain alone, and neither can a
// log rebuilt from scratch by someone with write access. custody.Record the head
// (Log.Head, Report.HeadSeq/HeadHash) outside the case folder — in the
// examiner's notes, the signed report or the case-management system — and
// compare it later.
//
// # Torn tails
//
// A crash in the middle of a write can leave a last line without its
// newline. Open terminates such a line and appends a log.torn_tail record
// naming the torn bytes (offset, length, SHA-256); that record links to the
// last intact record, so the chain stays verifiable, and verification
// reports the event as a notice rather than a failure.
package hashlog
