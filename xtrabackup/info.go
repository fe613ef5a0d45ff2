package xtrabackup

import (
	"errors"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// InfoFiles are the names of the backup's description: XtraBackup and
// MariaDB up to 11.0 write the first, MariaDB 11.1+ the second.
var InfoFiles = []string{"xtrabackup_info", "mariadb_backup_info"}

// ReadServer returns the server a backup dir was taken from, by the
// server_version line of its info file ("server_version = 10.11.6-MariaDB").
func ReadServer(dir string) (mysqld.Version, error) {
	data, err := readFirst(dir, InfoFiles, "not a backup dir")
	if err != nil {
		return mysqld.Version{}, err
	}
	return parseInfo(data)
}

func parseInfo(text string) (mysqld.Version, error) {
	if v := InfoField(text, "server_version"); v != "" {
		return mysqld.ParseVersion(v)
	}
	return mysqld.Version{}, errors.New("backup info has no server_version line")
}

// ParseServer is ReadServer on the info file's text.
func ParseServer(text string) (mysqld.Version, error) { return parseInfo(text) }

// InfoField returns the value of "key = value" in an info file's text.
func InfoField(text, key string) string {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
