package handlers

import (
	"testing"
	"time"
)

// TestRelTime checks the readable text of <time> elements without
// JavaScript, at the edges of each unit.
func TestRelTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "Never"},
		{now, "just now"},
		{now.Add(-59 * time.Second), "just now"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-59 * time.Minute), "59 minutes ago"},
		{now.Add(-time.Hour), "1 hour ago"},
		{now.Add(-23 * time.Hour), "23 hours ago"},
		{now.Add(-day), "1 day ago"},
		{now.Add(-3 * day), "3 days ago"},
		{now.Add(-364 * day), "364 days ago"},
		{now.Add(-365 * day), "1 year ago"},
		{now.Add(-800 * day), "2 years ago"},
		{now.Add(2 * time.Hour), "in 2 hours"},
		{now.Add(30 * day), "in 30 days"},
	} {
		if got := relTime(c.at, now); got != c.want {
			t.Errorf("relTime(now%+v) = %q, want %q", c.at.Sub(now), got, c.want)
		}
	}
	if got := ageText(12*day + time.Hour); got != "12 days" {
		t.Errorf("ageText(12 days) = %q", got)
	}
	if got := ageText(0); got != "less than a minute" {
		t.Errorf("ageText(0) = %q", got)
	}
}
