package binlogarchive

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// LocalFile is one of the server's binlog files, up to End.
type LocalFile struct {
	Name string
	End  uint64
}

// FollowLocal reads the server's binlog files in dir, from the snapshot
// to the end of the last one, as the restore's replay applies them, and
// returns the GTID position there (the snapshot's and every transaction
// after it, per domain) and how many transactions follow the snapshot.
// files start with the snapshot's.
func FollowLocal(dir string, files []LocalFile, from Snapshot) (gtid string, txs int, err error) {
	from.AsWritten = true
	pl := &planner{t: Target{Kind: "latest"}, from: from, last: map[string]uint64{}, lastText: map[string]string{}, firstText: map[string]string{}}
	if err := pl.init(); err != nil {
		return "", 0, err
	}
	for _, f := range files {
		pl.file = f.Name
		ec := &eventChecker{file: f.Name, local: true, on: pl.event}
		if err := copyFile(filepath.Join(dir, f.Name), f.End, ec); err != nil {
			return "", 0, err
		}
		if err := ec.end(); err != nil {
			return "", 0, err
		}
	}
	if pl.inTx {
		return "", 0, fmt.Errorf("binlog %s ends inside the transaction that starts at %d", pl.file, pl.txStart)
	}
	return pl.position(), pl.txs, nil
}

// copyFile writes the first n bytes of path to w, the first event's "in
// use" flag cleared: the server sets it on the file it writes and leaves
// it out of the event's CRC-32.
func copyFile(path string, n uint64, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	in := io.LimitReader(f, int64(n))
	head := make([]byte, min(n, 4+headerLen))
	got, err := io.ReadFull(in, head)
	if err == nil && len(head) == 4+headerLen {
		head[4+flagsOffset] &^= inUseFlag
	}
	if err == nil {
		if _, err = w.Write(head); err == nil {
			var rest int64
			rest, err = io.Copy(w, in)
			got += int(rest)
		}
	}
	if err == nil && uint64(got) < n {
		err = fmt.Errorf("binlog %s holds %d bytes, %d expected", path, got, n)
	}
	return err
}

// The event header's flags (at byte 17) and the format description's
// LOG_EVENT_BINLOG_IN_USE_F.
const (
	flagsOffset = 17
	inUseFlag   = 0x1
)
