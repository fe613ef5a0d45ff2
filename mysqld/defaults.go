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
	body := ""
	if include != "" {
		body = "!include " + include + "\n"
	}
	return writeOptionFile(dir, body+clientGroup(c))
}

// WriteSocketDefaults writes a 0600 option file for a client that is given
// it as its only option file (--defaults-file, so that no global option
// file is read): the connection of c in the [client] group, through its
// unix socket only (protocol=socket, host=localhost). Neither a global
// `[client] host=…` nor MYSQL_HOST can then send the client's statements,
// and the credentials, to another server. The caller removes the file with
// the returned function.
func WriteSocketDefaults(dir string, c Conn) (path string, remove func(), err error) {
	// The password line even when empty: MYSQL_PWD must not fill it in. A
	// statement of the delta may be as large as the server allows.
	body := clientGroup(c)
	if c.Password == "" {
		body += "password=\n"
	}
	return writeOptionFile(dir, body+"protocol=socket\nhost=localhost\nmax-allowed-packet=1G\n")
}

// clientGroup is the [client] group with the connection of c.
func clientGroup(c Conn) string {
	body := fmt.Sprintf("[client]\nuser=%s\nsocket=%s\n", optionValue(c.User), optionValue(c.Socket))
	if c.Password != "" {
		body += "password=" + optionValue(c.Password) + "\n"
	}
	return body
}

// writeOptionFile writes body into a new 0600 file in dir.
func writeOptionFile(dir, body string) (path string, remove func(), err error) {
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
