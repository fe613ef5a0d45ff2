package mysqld

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// serverGroup says whether g is an option group mariadbd or mysqld reads;
// every other group is left out of a safe option file.
func serverGroup(g string) bool {
	g = strings.ToLower(g)
	for _, p := range []string{"mysqld", "server", "mariadb", "mariadbd"} {
		if g == p || strings.HasPrefix(g, p+"-") {
			return true
		}
	}
	return g == "client-server" || g == "galera"
}

// safeNames are the server options a backup's option file may give a
// temporary server: those that lay out, name and interpret the data, and
// tuning. Nothing that loads code (plugin*, init*), changes who the server
// runs as (user), or writes files named by the file (general and slow
// logs, audit) is here. A name ending in "-" admits the family.
var safeNames = []string{
	"datadir", "socket", "port", "pid-file", "log-error", "tmpdir", "bind-address",
	"server-id", "log-basename", "log-bin", "log-bin-index", "relay-log", "relay-log-index",
	"log-slave-updates", "log-replica-updates", "sync-binlog", "expire-logs-days",
	"innodb-", "binlog-", "gtid-", "slave-", "replica-", "replicate-", "relay-log-",
	"log-bin-", "character-set-server", "collation-server", "character-set-client-handshake",
	"lower-case-table-names", "sql-mode", "default-time-zone", "default-storage-engine",
	"default-tmp-storage-engine", "explicit-defaults-for-timestamp", "transaction-isolation",
	"read-only", "name-resolve", "external-locking", "symbolic-links", "max-", "net-",
	"table-open-cache", "table-definition-cache", "open-files-limit", "thread-", "query-cache-",
	"key-buffer-size", "sort-buffer-size", "join-buffer-size", "read-buffer-size",
	"read-rnd-buffer-size", "tmp-table-size", "wait-timeout", "interactive-timeout",
	"connect-timeout", "back-log", "aria-", "myisam-", "performance-schema", "auto-increment-",
	"group-concat-max-len", "optimizer-", "event-scheduler", "local-infile", "skip-networking",
	"networking", "slave-parallel-threads",
}

// overridden options may name a place outside the datadir: every
// temporary server gives its own on the command line (the pid-file's base
// name is all it takes from the file).
var overridden = map[string]bool{"socket": true, "pid-file": true, "log-error": true}

// optionName normalizes an option name: lower case, '-' for '_', and
// without the prefixes that modify an option (loose-, skip-, …).
func optionName(key string) string {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
	for changed := true; changed; {
		changed = false
		for _, p := range []string{"loose-", "maximum-", "enable-", "disable-", "skip-"} {
			if strings.HasPrefix(n, p) {
				n, changed = strings.TrimPrefix(n, p), true
			}
		}
	}
	return n
}

func safeName(n string) bool {
	for _, s := range safeNames {
		if n == s || (strings.HasSuffix(s, "-") && strings.HasPrefix(n, s)) {
			return true
		}
	}
	return false
}

// SafeOptions reduces an untrusted option file (the my.cnf a backup
// brought) to what a temporary server on dataDir may take from it: the
// server groups, the safe options, and paths only inside dataDir. It
// returns the names it left out. It refuses a file whose data or binlogs
// would live outside dataDir (a path option it cannot keep and that the
// start would miss), naming the option.
func SafeOptions(data []byte, dataDir string) (safe []byte, dropped []string, err error) {
	var out bytes.Buffer
	keep := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '!':
			dropped = append(dropped, strings.Fields(line)[0])
			continue
		case line[0] == '[':
			g := strings.TrimSpace(strings.Trim(line, "[]"))
			keep = serverGroup(g)
			if keep {
				fmt.Fprintf(&out, "[%s]\n", g)
			}
			continue
		case !keep:
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		name := optionName(key)
		value = unquotedValue(value)
		if !safeName(name) {
			dropped = append(dropped, name)
			continue
		}
		pathLike := strings.Contains(value, "/") || strings.Contains(value, "..")
		if hasValue && pathLike && !overridden[name] && !pathsInside(dataDir, value) {
			if name == "tmpdir" {
				dropped = append(dropped, name)
				continue
			}
			return nil, nil, fmt.Errorf("it sets %s=%s, outside the datadir %s: a temporary server takes no path outside the datadir from a backup's my.cnf", name, value, dataDir)
		}
		if hasValue {
			fmt.Fprintf(&out, "%s=%s\n", strings.TrimSpace(key), value)
		} else {
			fmt.Fprintf(&out, "%s\n", strings.TrimSpace(key))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), dropped, nil
}

// unquotedValue is an option's value without quotes and trailing comment.
func unquotedValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// pathsInside says whether every path in value (one, or several joined by
// ';' or ',' as innodb_data_file_path has them, each maybe with a
// ":size" tail) resolves inside dataDir; relative paths are inside.
func pathsInside(dataDir, value string) bool {
	for _, part := range strings.FieldsFunc(value, func(r rune) bool { return r == ';' || r == ',' }) {
		p, _, _ := strings.Cut(part, ":")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dataDir, p)
		}
		rel, err := filepath.Rel(dataDir, filepath.Clean(p))
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return false
		}
	}
	return true
}

// LoadsCode says whether an option SafeOptions left out (a name it
// returned) makes a server load or run code: plugins, init files and
// statements, included files.
func LoadsCode(name string) bool {
	return strings.HasPrefix(name, "plugin") || strings.HasPrefix(name, "init-") || strings.HasPrefix(name, "!include")
}
