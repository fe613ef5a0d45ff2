package binlogsync

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeBinlog writes a binlog of events of the given types (19-byte
// headers and a few bytes of body each).
func fakeBinlog(t *testing.T, types ...byte) string {
	t.Helper()
	data := append([]byte{}, Magic...)
	for _, typ := range types {
		ev := make([]byte, 19+8)
		ev[4] = typ
		binary.LittleEndian.PutUint32(ev[9:13], uint32(len(ev)))
		data = append(data, ev...)
	}
	p := filepath.Join(t.TempDir(), "mysql-bin.000002")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHoldsChangesTellsAServerStartFromATransaction(t *testing.T) {
	const fde, gtidList, checkpoint, stop, gtid, query, xid = 15, 163, 161, 3, 162, 2, 16
	startStop := fakeBinlog(t, fde, gtidList, checkpoint, stop)
	if got, err := HoldsChanges(startStop, 0); err != nil || got {
		t.Errorf("a binlog of a start and a stop: %v, %v; want no changes", got, err)
	}
	tx := fakeBinlog(t, fde, gtidList, checkpoint, gtid, query, xid)
	if got, err := HoldsChanges(tx, 0); err != nil || !got {
		t.Errorf("a binlog with a transaction: %v, %v; want changes", got, err)
	}
	// From the offset the marker recorded on: only what came after counts.
	if got, err := HoldsChanges(tx, 4+3*27); err != nil || !got {
		t.Errorf("the transaction after the recorded end: %v, %v", got, err)
	}
	grown := fakeBinlog(t, fde, gtid, xid, stop)
	if got, err := HoldsChanges(grown, 4+3*27); err != nil || got {
		t.Errorf("only a stop event after the recorded end: %v, %v; want no changes", got, err)
	}
	if _, err := HoldsChanges(fakeBinlog(t, fde, 164, gtidList), 0); !errors.Is(err, ErrEncrypted) {
		t.Errorf("an encrypted binlog: %v, want ErrEncrypted", err)
	}
	if _, err := HoldsChanges(filepath.Join(t.TempDir(), "x"), 0); err == nil {
		t.Error("a missing file read as a binlog")
	}
}
