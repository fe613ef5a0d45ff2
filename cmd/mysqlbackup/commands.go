package main

import "fmt"

// CatchupBinlogCmd is `mysqlbackup catchup_binlog`.
type CatchupBinlogCmd struct{}

// SetupReplicationCmd is `mysqlbackup setup_replication`.
type SetupReplicationCmd struct{}

// notYet is the error of a subcommand this build does not carry yet; it
// fails loudly (exit 1) rather than pretending to succeed.
func notYet(cmd string) error {
	return fmt.Errorf("%s is not implemented in this build yet", cmd)
}

// Run implements catchup_binlog.
func (CatchupBinlogCmd) Run(app *App) error { return notYet("catchup_binlog") }

// Run implements setup_replication.
func (SetupReplicationCmd) Run(app *App) error { return notYet("setup_replication") }
