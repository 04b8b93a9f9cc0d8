package vsphere_test

import (
	"testing"
	"time"

	"github.com/esxsink/esxsink/vsphere"
)

// TestParseSince: --since as days, weeks, hours, a date or a time; the
// default is vCenter's retention; nonsense and the future are refused.
func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          now.AddDate(0, 0, -30),
		"30d":                       now.AddDate(0, 0, -30),
		"2w":                        now.AddDate(0, 0, -14),
		"36h":                       now.Add(-36 * time.Hour),
		"2026-11-01":                time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:00Z":      time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
		"2026-11-01T09:00:00+01:00": time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
	} {
		p, err := vsphere.ParseSince(in, now)
		if err != nil || !p.Since.Equal(want) || !p.Until.Equal(now) || p.Since.Location() != time.UTC {
			t.Errorf("--since %q: %+v %v, want since %v", in, p, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "0d", "-3d", "2027-01-01", "30x", "-36h"} {
		if p, err := vsphere.ParseSince(bad, now); err == nil {
			t.Errorf("--since %q accepted: %+v", bad, p)
		}
	}
}
