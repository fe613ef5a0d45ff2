package binlogarchive

import (
	"time"
)

// Base is a backup a point-in-time restore can start from.
type Base struct {
	Date     string
	File     string    // its snapshot's binlog file
	Finished time.Time // its snapshot was taken no later
}

// Window is the range a point-in-time restore reaches through a series:
// from the oldest backup whose snapshot file it holds with no gap after
// it, to the last archived event.
type Window struct {
	From     time.Time `json:"from"`
	Backup   string    `json:"backup"` // the backup it starts from
	To       time.Time `json:"to"`
	LastFile string    `json:"last_file"`
}

// Window is the series' recoverable window over bases (any order), or
// false when no base's snapshot is in the archive after its last gap.
func (ix *Index) Window(bases []Base) (Window, bool) {
	if len(ix.Files) == 0 {
		return Window{}, false
	}
	// The files from the last gap on: every one whole but the last.
	from, _ := ix.LastGap(0)
	held := map[string]bool{}
	for _, f := range ix.Files[from:] {
		held[f.Name] = true
	}
	var w Window
	found := false
	for _, b := range bases {
		if held[b.File] && (!found || b.Finished.Before(w.From)) {
			w.From, w.Backup, found = b.Finished, b.Date, true
		}
	}
	last := ix.Files[len(ix.Files)-1]
	w.To, w.LastFile = last.LastEvent, last.Name
	if last.LastEvent.IsZero() && len(ix.Files) > 1 {
		w.To = ix.Files[len(ix.Files)-2].LastEvent
	}
	return w, found
}
