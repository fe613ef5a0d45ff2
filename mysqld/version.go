package mysqld

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Flavor is the server family.
type Flavor string

// The two flavors.
const (
	MariaDB Flavor = "mariadb"
	MySQL   Flavor = "mysql"
)

// Version is a server's flavor and version, from SELECT VERSION() or the
// server_version a backup recorded.
type Version struct {
	Flavor              Flavor
	Major, Minor, Patch int
	Text                string // e.g. "10.11.6-MariaDB-0+deb12u1-log"
}

var versionRe = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the flavor and version from a version string.
func ParseVersion(v string) (Version, error) {
	m := versionRe.FindStringSubmatch(v)
	if m == nil {
		return Version{}, fmt.Errorf("server version %q: want N.N[.N]…", v)
	}
	out := Version{Flavor: MySQL, Text: v}
	out.Major, _ = strconv.Atoi(m[1])
	out.Minor, _ = strconv.Atoi(m[2])
	out.Patch, _ = strconv.Atoi(m[3])
	if strings.Contains(strings.ToLower(v), "mariadb") {
		out.Flavor = MariaDB
	}
	return out, nil
}

// AtLeast says whether v is major.minor.patch or later.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}
