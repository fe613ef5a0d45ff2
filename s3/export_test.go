package s3

import "time"

// SetResumeBackoff shortens the resumption backoff for a test.
func SetResumeBackoff(d time.Duration) (restore func()) {
	old := resumeBackoff
	resumeBackoff = d
	return func() { resumeBackoff = old }
}

// Sent is the bytes the throttle let go.
func (t *Throttle) Sent() int64 { return t.sent.Load() }
