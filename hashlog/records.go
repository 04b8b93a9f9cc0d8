package hashlog

import (
	"slices"

	"github.com/esxsink/esxsink/custody"
	"github.com/esxsink/esxsink/digest"
)

// reservedTypePrefix starts the record types only this package writes.
const reservedTypePrefix = "log."

// NewFileFinalized builds the record data for path from the sink's digest.
func NewFileFinalized(path string, r digest.Result, reason string, anomalies []string) custody.FileFinalized {
	f := custody.FileFinalized{
		Path:           path,
		Size:           r.Size,
		Hashes:         map[string]string{},
		PieceSize:      r.PieceSize,
		PieceAlgorithm: r.PieceAlgorithm,
		Pieces:         slices.Clone(r.Pieces),
		Anomalies:      slices.Clone(anomalies),
		Reason:         reason,
	}
	for k, v := range r.Sums {
		f.Hashes[k] = v
	}
	return f
}

// FinalizedResult converts the record back to a digest.Result for comparison.
func FinalizedResult(f custody.FileFinalized) digest.Result {
	r := digest.Result{
		Size:           f.Size,
		Sums:           map[string]string{},
		PieceSize:      f.PieceSize,
		PieceAlgorithm: f.PieceAlgorithm,
		Pieces:         slices.Clone(f.Pieces),
	}
	for k, v := range f.Hashes {
		r.Sums[k] = v
	}
	return r
}
