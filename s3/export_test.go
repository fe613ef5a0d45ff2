package s3

import "time"

// SetResumeBackoff shortens the resumption backoff for a test.
func SetResumeBackoff(d time.Duration) (restore func()) {
	old := resumeBackoff
	resumeBackoff = d
	return func() { resumeBackoff = old }
}
