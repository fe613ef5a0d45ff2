package xtrabackup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// BinlogInfoFiles are the names of the snapshot position file: XtraBackup
// and MariaDB up to 11.0 write the first, MariaDB 11.1+ the second.
var BinlogInfoFiles = []string{"xtrabackup_binlog_info", "mariadb_backup_binlog_info"}

// BinlogInfo is the binary log position of the snapshot.
type BinlogInfo struct {
	File string
	Pos  uint64
	GTID string // "" when GTIDs are off or the set is empty
}

// ParseBinlogInfo reads `file<TAB>pos[<TAB>gtid]`. The GTID set of MySQL
// may span lines (one uuid per line, comma-terminated); they are joined.
func ParseBinlogInfo(text string) (BinlogInfo, error) {
	text = strings.TrimSpace(text)
	fields := strings.SplitN(text, "\t", 3)
	if len(fields) < 2 || fields[0] == "" {
		return BinlogInfo{}, fmt.Errorf("binlog info %q: want file<TAB>position[<TAB>gtid]", text)
	}
	pos, err := strconv.ParseUint(strings.TrimSpace(fields[1]), 10, 64)
	if err != nil {
		return BinlogInfo{}, fmt.Errorf("binlog info %q: position %q is not a number", text, fields[1])
	}
	info := BinlogInfo{File: strings.TrimSpace(fields[0]), Pos: pos}
	if len(fields) == 3 {
		info.GTID = strings.Join(strings.Fields(fields[2]), "")
	}
	if strings.ContainsAny(info.File, "/\\") {
		return BinlogInfo{}, fmt.Errorf("binlog info: file %q is not a bare binlog name", info.File)
	}
	return info, nil
}

// ReadBinlogInfo reads the snapshot position from a backup dir.
func ReadBinlogInfo(dir string) (BinlogInfo, error) {
	data, err := readFirst(dir, BinlogInfoFiles, "binary logging off on the source?")
	if err != nil {
		return BinlogInfo{}, err
	}
	return ParseBinlogInfo(data)
}

// readFirst returns the content of the first of names that exists in dir.
func readFirst(dir string, names []string, hint string) (string, error) {
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return string(data), err
	}
	return "", fmt.Errorf("no %s in %s (%s)", strings.Join(names, " or "), dir, hint)
}
