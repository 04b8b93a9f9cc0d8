package esxi

import (
	"testing"
	"time"
)

func TestParseDateUTC(t *testing.T) {
	t.Parallel()
	got, err := ParseDateUTC("1796300000\n")
	if err != nil || !got.Equal(time.Unix(1796300000, 0)) {
		t.Fatalf("ParseDateUTC = %v, %v", got, err)
	}
	for _, bad := range []string{"", "Thu Dec  3 16:30:55 UTC 2026", "-5", "12abc"} {
		if _, err := ParseDateUTC(bad); err == nil {
			t.Errorf("ParseDateUTC(%q) accepted", bad)
		}
	}
}
