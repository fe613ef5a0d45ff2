package mysqld

import (
	"fmt"
	"os"
	"strings"
)

// WriteClientDefaults writes a 0600 option file holding the connection of
// c in the [client] group (read by mysql, mysqlbinlog, mariabackup and
// xtrabackup), so that no password appears on a command line. When include
// is set the file first includes that option file (the instance's my.cnf):
// mariabackup takes only one of --defaults-file and --defaults-extra-file
// first on its command line, so the two travel as one file. The caller
// removes the file with the returned function.
func WriteClientDefaults(dir string, c Conn, include string) (path string, remove func(), err error) {
	f, err := os.CreateTemp(dir, ".mysqlbackup-client-*.cnf")
	if err != nil {
		return "", nil, fmt.Errorf("client defaults file: %w", err)
	}
	remove = func() { os.Remove(f.Name()) }
	// CreateTemp makes the file 0600 already; say so for the reader.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		remove()
		return "", nil, err
	}
	body := ""
	if include != "" {
		body = "!include " + include + "\n"
	}
	body += fmt.Sprintf("[client]\nuser=%s\nsocket=%s\n", optionValue(c.User), optionValue(c.Socket))
	if c.Password != "" {
		body += "password=" + optionValue(c.Password) + "\n"
	}
	_, werr := f.WriteString(body)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		remove()
		return "", nil, fmt.Errorf("client defaults file: %w", werr)
	}
	return f.Name(), remove, nil
}

// optionValue quotes a value for a MySQL option file: inside double
// quotes, backslash and double quote are escaped.
func optionValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}
