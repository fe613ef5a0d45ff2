package mysqld

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Relocation is where a copy of an instance lives: a datadir, port,
// socket and pid-file of its own.
type Relocation struct {
	DataDir, Socket, PidFile string
	Port                     int
}

// relocatedPaths are the path options that follow the datadir: under the
// old datadir they move with it; elsewhere (a binlog or log disk of the
// original) they come inside the new one, keeping their base name.
var relocatedPaths = map[string]bool{
	"log-bin": true, "log-bin-index": true, "relay-log": true, "relay-log-index": true,
	"log-error": true, "general-log-file": true, "slow-query-log-file": true, "log-tc": true,
	"master-info-file": true, "relay-log-info-file": true, "aria-log-dir-path": true,
	"innodb-tmpdir": true, "log-slow-query-file": true, "server-audit-file-path": true,
}

// relocatedDirs hold data: they must lie inside the old datadir.
var relocatedDirs = map[string]bool{
	"innodb-data-home-dir": true, "innodb-log-group-home-dir": true, "innodb-undo-directory": true,
}

// dropped options would make the copy take what the original holds (a
// second port of its own).
var dropped = map[string]bool{"extra-port": true}

// auxGroups are read by the server's wrapper and the admin tool: their
// socket, pid-file and log-error follow the copy too.
func auxGroup(g string) bool {
	g = strings.ToLower(g)
	return g == "mysqld_safe" || g == "safe_mysqld" || g == "mariadb-safe" || g == "mysqladmin" || g == "mariadb-admin"
}

// readByClients says whether g is a group the clients read.
func readByClients(g string) bool {
	g = strings.ToLower(g)
	return g == "client" || g == "client-server" || g == "client-mariadb" || g == "mysql" || g == "mariadb-client"
}

// Relocate rewrites an instance's option file for a copy of it at r, so
// that the copy and the original run side by side on one host: datadir,
// port, socket and pid-file are r's; paths under the old datadir move
// with it, the binlogs and logs kept elsewhere come inside it; and the
// copy never starts replication on its own. It refuses a file that
// includes others or keeps data outside its datadir. It returns what it
// changed, one "option: old -> new" each.
func Relocate(data []byte, r Relocation) ([]byte, []string, error) {
	lines, err := optionLines(data)
	if err != nil {
		return nil, nil, err
	}
	old := DataDirOf(data)
	if old == "" {
		return nil, nil, errors.New("it names no datadir")
	}
	group := ""
	var out bytes.Buffer
	var changed []string
	group = ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "!include"):
			return nil, nil, fmt.Errorf("it includes other files (%s): give the copy its own conf_base", t)
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			group = t[1 : len(t)-1]
		case t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ";"):
			k, v, hasValue := strings.Cut(t, "=")
			n, value := optionName(k), unquotedValue(v)
			if dropped[n] && serverGroup(group) {
				changed = append(changed, strings.TrimSpace(k)+": removed")
				out.WriteString("# mysqlbackup: not for a copy beside the instance: " + l + "\n")
				continue
			}
			want, err := relocated(group, n, value, hasValue, old, r)
			if err != nil {
				return nil, nil, err
			}
			if want != value && hasValue {
				changed = append(changed, fmt.Sprintf("%s: %s -> %s", strings.TrimSpace(k), value, want))
				l = strings.TrimSpace(k) + " = " + want
			}
		}
		out.WriteString(l + "\n")
	}
	out.WriteString("\n[mysqld]\n# mysqlbackup: a copy restored to a point in time does not replicate on its own\nskip-slave-start\n")
	return out.Bytes(), changed, nil
}

// optionLines are an option file's lines.
func optionLines(data []byte) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// DataDirOf is the datadir an option file gives the server ("" when
// none).
func DataDirOf(data []byte) string {
	if dir := ServerOption(data, "datadir"); dir != "" {
		return filepath.Clean(dir)
	}
	return ""
}

// ServerOption is the value an option file gives the server for option
// name ("" when none), as the server reads it: the last one wins.
func ServerOption(data []byte, name string) string {
	lines, _ := optionLines(data)
	value, group := "", ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			group = t[1 : len(t)-1]
			continue
		}
		if k, v, ok := strings.Cut(t, "="); ok && serverGroup(group) && optionName(k) == name {
			value = unquotedValue(v)
		}
	}
	return value
}

// relocated is the value of option n of group in the copy.
func relocated(group, n, value string, hasValue bool, old string, r Relocation) (string, error) {
	switch {
	case readByClients(group) && n == "port":
		return strconv.Itoa(r.Port), nil
	case readByClients(group) && n == "socket":
		return r.Socket, nil
	case auxGroup(group) && hasValue:
		switch n {
		case "socket":
			return r.Socket, nil
		case "pid-file":
			return r.PidFile, nil
		case "port":
			return strconv.Itoa(r.Port), nil
		case "log-error":
			return relocatedPath(value, old, r), nil
		}
		return value, nil
	case !serverGroup(group) || !hasValue:
		return value, nil
	}
	switch {
	case n == "datadir":
		return r.DataDir, nil
	case n == "port":
		return strconv.Itoa(r.Port), nil
	case n == "socket":
		return r.Socket, nil
	case n == "pid-file":
		return r.PidFile, nil
	case relocatedDirs[n] && filepath.IsAbs(value):
		rel, err := filepath.Rel(old, value)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("its %s %s is outside its datadir %s: the copy would share it", n, value, old)
		}
		return filepath.Join(r.DataDir, rel), nil
	case n == "innodb-data-file-path":
		return relocatedFilePath(value, old, r)
	case relocatedPaths[n]:
		return relocatedPath(value, old, r), nil
	}
	return value, nil
}

// relocatedPath is a file's path in the copy: under the old datadir it
// moves with it; elsewhere (a relative path that climbs out of it too) it
// comes inside the copy's datadir, keeping its base name.
func relocatedPath(value, old string, r Relocation) string {
	abs := value
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(old, value)
	}
	if rel, err := filepath.Rel(old, abs); err == nil && !strings.HasPrefix(rel, "..") {
		if !filepath.IsAbs(value) {
			return value // relative inside the datadir: it follows by itself
		}
		return filepath.Join(r.DataDir, rel)
	}
	return filepath.Join(r.DataDir, filepath.Base(value))
}

// relocatedFilePath is innodb_data_file_path in the copy: its absolute
// files under the old datadir move with it; one elsewhere is refused.
func relocatedFilePath(value, old string, r Relocation) (string, error) {
	parts := strings.Split(value, ";")
	for i, p := range parts {
		name, rest, _ := strings.Cut(p, ":")
		if !filepath.IsAbs(name) {
			continue
		}
		rel, err := filepath.Rel(old, name)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("its innodb_data_file_path names %s, outside its datadir %s: the copy would share it", name, old)
		}
		parts[i] = filepath.Join(r.DataDir, rel)
		if rest != "" {
			parts[i] += ":" + rest
		}
	}
	return strings.Join(parts, ";"), nil
}
