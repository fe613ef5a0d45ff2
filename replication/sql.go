package replication

import (
	"fmt"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// newTerms says whether a MySQL server wants REPLICA/SOURCE (8.0.22+ for
// START/STOP/RESET REPLICA, 8.0.23+ for CHANGE REPLICATION SOURCE).
func newTerms(s mysqld.Version, minPatch int) bool {
	return s.Flavor == MySQL && s.AtLeast(8, 0, minPatch)
}

// Source is one channel's source.
type Source struct {
	ID       string // channel master-<ID>
	Host     string
	Port     int
	User     string
	Password string
}

// Channel is the legacy channel name of a source.
func (s Source) Channel() string { return "master-" + s.ID }

// Quote returns s as an SQL string literal. The session must not use
// NO_BACKSLASH_ESCAPES (SessionSetup turns it off).
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

// SessionSetup makes the quoting of Quote valid in this session.
const SessionSetup = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')"

// StopAll stops every replication channel.
func StopAll(s mysqld.Version) string {
	switch {
	case s.Flavor == MariaDB:
		return "STOP ALL SLAVES"
	case newTerms(s, 22):
		return "STOP REPLICA"
	}
	return "STOP SLAVE"
}

// ResetAll removes every channel with its relay logs and settings.
// MariaDB needs one statement per named connection; existing names the
// connections SHOW ALL SLAVES STATUS lists.
func ResetAll(s mysqld.Version, existing []string) []string {
	switch {
	case s.Flavor == MariaDB:
		out := make([]string, 0, len(existing)+1)
		for _, name := range existing {
			if name != "" {
				out = append(out, "RESET SLAVE "+Quote(name)+" ALL")
			}
		}
		return append(out, "RESET SLAVE ALL")
	case newTerms(s, 22):
		return []string{"RESET REPLICA ALL"}
	case s.Major == 5:
		// 5.7 keeps channel state in tables only when told to (legacy §5.2).
		return []string{
			"SET GLOBAL master_info_repository = 'TABLE'",
			"SET GLOBAL relay_log_info_repository = 'TABLE'",
			"RESET SLAVE ALL",
		}
	}
	return []string{"RESET SLAVE ALL"}
}

// SlavePosFromBinlog makes a restored MariaDB replica resume after what
// its own binlog holds (mariabackup restores an old gtid_slave_pos table).
const SlavePosFromBinlog = "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"

// ChangeSource creates the channel of src with GTID positioning.
func ChangeSource(s mysqld.Version, src Source) string {
	switch {
	case s.Flavor == MariaDB:
		return fmt.Sprintf("CHANGE MASTER %s TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			Quote(src.Channel()), Quote(src.Host), src.Port, Quote(src.User), Quote(src.Password))
	case newTerms(s, 23):
		return fmt.Sprintf("CHANGE REPLICATION SOURCE TO SOURCE_HOST=%s, SOURCE_PORT=%d, SOURCE_USER=%s, SOURCE_PASSWORD=%s, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1 FOR CHANNEL %s",
			Quote(src.Host), src.Port, Quote(src.User), Quote(src.Password), Quote(src.Channel()))
	}
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_AUTO_POSITION=1, MASTER_CONNECT_RETRY=1 FOR CHANNEL %s",
		Quote(src.Host), src.Port, Quote(src.User), Quote(src.Password), Quote(src.Channel()))
}

// StartChannel starts one channel explicitly.
func StartChannel(s mysqld.Version, channel string) string {
	switch {
	case s.Flavor == MariaDB:
		return "START SLAVE " + Quote(channel)
	case newTerms(s, 22):
		return "START REPLICA FOR CHANNEL " + Quote(channel)
	}
	return "START SLAVE FOR CHANNEL " + Quote(channel)
}

// GroupReplicationReset is the legacy reset of a Group Replication member
// (MySQL only): its channels are left to Group Replication.
func GroupReplicationReset(s mysqld.Version) []string {
	reset := "RESET SLAVE ALL"
	if newTerms(s, 22) {
		reset = "RESET REPLICA ALL"
	}
	var out []string
	if s.Major == 5 {
		out = []string{"SET GLOBAL master_info_repository = 'TABLE'", "SET GLOBAL relay_log_info_repository = 'TABLE'"}
	}
	return append(out,
		reset+" FOR CHANNEL 'group_replication_applier'",
		reset+" FOR CHANNEL 'group_replication_recovery'",
		reset+" FOR CHANNEL ''",
		reset,
	)
}

// GoalQuery reads a source's position to catch up to: everything it has
// written to its binary log.
func GoalQuery(f Flavor) string {
	if f == MariaDB {
		return "SELECT @@GLOBAL.gtid_binlog_pos"
	}
	return "SELECT @@GLOBAL.gtid_executed"
}

// PositionQuery reads how far this replica has got.
func PositionQuery(f Flavor) string {
	if f == MariaDB {
		return "SELECT @@GLOBAL.gtid_slave_pos"
	}
	return "SELECT @@GLOBAL.gtid_executed"
}

// WaitQuery blocks up to seconds until the replica reached goal (one
// placeholder for the goal). MariaDB's MASTER_GTID_WAIT returns 0 when
// reached, -1 on timeout; MySQL's WAIT_FOR_EXECUTED_GTID_SET 0 or 1.
func WaitQuery(f Flavor, seconds float64) string {
	if f == MariaDB {
		return fmt.Sprintf("SELECT MASTER_GTID_WAIT(?, %g)", seconds)
	}
	return fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, %g)", seconds)
}

// ResetRelayLogs makes a stopped channel drop its relay logs and start a
// new, empty one, its position kept as GTIDs: CHANGE MASTER without relay
// log options deletes the relay logs. After a catch-up, the next start
// then fetches from what was applied (gtid_slave_pos / gtid_executed) and
// nothing is applied twice.
func ResetRelayLogs(s mysqld.Version, channel string) string {
	switch {
	case s.Flavor == MariaDB:
		return "CHANGE MASTER " + Quote(channel) + " TO MASTER_USE_GTID=slave_pos"
	case newTerms(s, 23):
		return "CHANGE REPLICATION SOURCE TO SOURCE_AUTO_POSITION=1 FOR CHANNEL " + Quote(channel)
	}
	return "CHANGE MASTER TO MASTER_AUTO_POSITION=1 FOR CHANNEL " + Quote(channel)
}
