package restore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// DryRunReport is `restore --dry-run`: the restore the config asks for,
// planned, and every refusal the real run would give. Nothing is written
// anywhere; only the small my.cnf object of a v2 backup is read.
type DryRunReport struct {
	Backup        string         `json:"backup,omitempty"` // its key or path
	Date          string         `json:"date,omitempty"`
	Format        string         `json:"format,omitempty"`
	Host          string         `json:"host,omitempty"` // that took it (v2)
	Signed        bool           `json:"signed"`
	Snapshot      string         `json:"snapshot,omitempty"`
	GTID          string         `json:"gtid,omitempty"`
	ServerVersion string         `json:"server_version,omitempty"` // the backed-up server's (v2)
	EngineVersion string         `json:"engine_version,omitempty"`
	Objects       []DryRunObject `json:"objects,omitempty"`
	StoredBytes   int64          `json:"stored_bytes"`
	// Binlogs is "bundled", or "archive:<series>" for a backup whose
	// binlogs are in the binlog archive (Archive: that stretch, proven).
	Binlogs   string              `json:"binlogs,omitempty"`
	Archive   *binlogarchive.Plan `json:"archive,omitempty"`
	Installed Installed           `json:"installed"`
	Disk      []DiskUse           `json:"disk"`
	MyCnf     *MyCnfDiff          `json:"my_cnf,omitempty"`
	// Notes are what the run will do that an operator may not expect;
	// Refusals what stops it: the real restore would not proceed.
	Notes    []string `json:"notes,omitempty"`
	Refusals []string `json:"refusals"`
	// Short names each filesystem with less free space than the restore
	// needs there (it would fail part way).
	Short []string `json:"disk_short,omitempty"`
}

// DryRunObject is one object the restore downloads.
type DryRunObject struct {
	Role      string `json:"role"`
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	PlainSize int64  `json:"plain_size,omitempty"`
}

// Installed are the tools the restore would run, as installed here.
type Installed struct {
	Server        string `json:"server,omitempty"` // its binary
	ServerVersion string `json:"server_version,omitempty"`
	Engine        string `json:"engine,omitempty"`
	EngineVersion string `json:"engine_version,omitempty"` // the server line it is built for
}

// DiskUse is what the restore puts on one filesystem at most, and what
// it has free.
type DiskUse struct {
	Paths []string `json:"paths"`
	Need  int64    `json:"need_bytes"`
	Free  int64    `json:"free_bytes"`
	// Estimate: the need is guessed (a legacy archive records no
	// unpacked size).
	Estimate bool `json:"estimate,omitempty"`
}

// MyCnfDiff compares the backup's my.cnf with the one the restored
// datadir will start from.
type MyCnfDiff struct {
	Against string   `json:"against"` // that file, or "" when the backup's is kept
	Changes []string `json:"changes"`
}

// DryRun plans the restore of date_str ("latest": the newest complete
// backup) without touching anything. Refusals are in the report; the
// error is for a report that could not be made at all.
func DryRun(ctx context.Context, in *instance.Instance) (*DryRunReport, error) {
	cfg := in.Cfg
	rep := &DryRunReport{Refusals: []string{}}
	refuse := func(err error) { rep.Refusals = append(rep.Refusals, err.Error()) }
	if err := refuseLive(ctx, in); err != nil {
		refuse(err)
	}
	if pid, held := lock.Holder(filepath.Join(cfg.BackupBase, "mysql-"+string(cfg.Port)+".lock")); held {
		refuse(fmt.Errorf("another run of port %s holds its lock (pid %d)", cfg.Port, pid))
	}
	if err := refuseDatadir(cfg); err != nil {
		refuse(err)
	} else if InProgress(cfg.MySQLDataDir) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("data dir %s holds an unfinished restore: the restore clears it first", cfg.MySQLDataDir))
	}
	src, err := find(ctx, in, progress.Reporter{Log: in.Log}, "")
	if err != nil {
		refuse(err)
		rep.Installed.Server, rep.Installed.ServerVersion = installedServer(ctx, in)
		return rep, nil
	}
	rep.Backup, rep.StoredBytes, rep.Signed = src.String(), src.size(), src.signed()
	var backupSrv *mysqld.Version
	switch s := src.(type) {
	case *v2Source:
		m := &s.manifest
		rep.Date, rep.Format, rep.Host = m.Date, catalog.FormatV2, m.Host
		rep.Snapshot, rep.GTID = fmt.Sprintf("%s:%d", m.BinlogFile, m.BinlogPos), m.GTID
		rep.ServerVersion, rep.EngineVersion = m.ServerVersion, m.EngineVersion
		for _, o := range m.Objects {
			rep.Objects = append(rep.Objects, DryRunObject{Role: o.Role, Key: o.Key, Size: o.Size, PlainSize: o.PlainSize})
		}
		if v, err := mysqld.ParseVersion(m.ServerVersion); err == nil {
			backupSrv = &v
		}
		rep.Binlogs = "bundled"
		if a := m.BinlogArchive; a != nil {
			rep.Binlogs = "archive:" + a.Series
			r := &run{in: in, cfg: cfg, src: src}
			if err := r.deltaFromArchive(); err != nil {
				refuse(err)
			} else if plan, err := planUntil(ctx, in, r.opts.Until, *r.base, nil); err != nil {
				refuse(err)
			} else {
				rep.Archive = plan.Archive
			}
		}
		var backupCnf []byte
		if rep.MyCnf, backupCnf, err = s.myCnfDiff(ctx, in); err != nil {
			refuse(err)
		} else if err := refuseCodeLoadingOf(in, backupCnf, s.signed()); err != nil {
			refuse(err)
		} else if err := refuseRelocation(in, backupCnf); err != nil {
			refuse(err)
		}
	case *legacySource:
		rep.Format, rep.Binlogs = catalog.FormatLegacy, "bundled"
		rep.Notes = append(rep.Notes, "a legacy archive records neither its server version nor its unpacked size: the restore checks the version once it is unpacked; the disk needed is estimated")
	}
	rep.Installed.Server, rep.Installed.ServerVersion = installedServer(ctx, in)
	if backupSrv != nil {
		if e, err := xtrabackup.Choose(*backupSrv, cfg.XtrabackupBin); err != nil {
			refuse(err)
		} else {
			rep.Installed.Engine, rep.Installed.EngineVersion = e.Bin, engineVersion(ctx, e.Bin)
		}
		if err := refuseVersions(*backupSrv, rep.Installed); err != nil {
			refuse(err)
		}
	}
	rep.Disk = diskUse(cfg, rep, src)
	for _, d := range rep.Disk {
		if d.Free > 0 && d.Need > d.Free {
			short := fmt.Sprintf("%s has %s free, the restore needs about %s there", strings.Join(d.Paths, " and "), progress.Bytes(d.Free), progress.Bytes(d.Need))
			rep.Short = append(rep.Short, short)
			rep.Notes = append(rep.Notes, "!! "+short+": it would fail part way")
		}
	}
	return rep, nil
}

// refuseLive refuses a restore while the instance answers.
func refuseLive(ctx context.Context, in *instance.Instance) error {
	alive, err := in.Admin().Alive(ctx)
	if err != nil {
		return err
	}
	if alive {
		return fmt.Errorf("the instance answers on %s: stop it before restoring", in.Cfg.MySQLSocket)
	}
	return nil
}

// refuseDatadir refuses a datadir that holds data (not an unfinished
// restore of ours), or an unfinished restore a server has written to
// since.
func refuseDatadir(cfg *conf.Config) error {
	s, err := newStage(cfg.MySQLDataDir)
	if err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	if InProgress(cfg.MySQLDataDir) {
		return untouchedSince(cfg)
	}
	return nil
}

// versionLine is a version's major line: 10.11, 8.0.
func versionLine(v mysqld.Version) string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// refuseVersions refuses to restore a physical backup into another
// flavor, another major line or an older server, or to prepare it with a
// tool of another line: the datadir would not start, or not safely.
func refuseVersions(backup mysqld.Version, inst Installed) error {
	if inst.ServerVersion != "" {
		srv, err := mysqld.ParseVersion(inst.ServerVersion)
		switch {
		case err != nil:
			return fmt.Errorf("installed %s: %w", inst.Server, err)
		case srv.Flavor != backup.Flavor:
			return fmt.Errorf("the backup is of %s %s, the installed %s is %s %s: a physical backup restores into the same flavor only", backup.Flavor, backup.Text, filepath.Base(inst.Server), srv.Flavor, srv.Text)
		case versionLine(srv) != versionLine(backup):
			return fmt.Errorf("the backup is of %s %s, the installed %s is %s: a physical backup restores into the same major line (%s) only; install %s %s.x", backup.Flavor, backup.Text, filepath.Base(inst.Server), srv.Text, versionLine(backup), backup.Flavor, versionLine(backup))
		case !srv.AtLeast(backup.Major, backup.Minor, backup.Patch):
			return fmt.Errorf("the backup is of %s %s, the installed %s is older (%s): a downgrade; install %s or later", backup.Flavor, backup.Text, filepath.Base(inst.Server), srv.Text, backup.Text)
		}
	}
	if inst.EngineVersion != "" {
		eng, err := mysqld.ParseVersion(inst.EngineVersion)
		if err == nil && versionLine(eng) != versionLine(backup) {
			return fmt.Errorf("the backup is of %s %s, the installed %s is built for %s: it prepares backups of its own major line (%s) only", backup.Flavor, backup.Text, filepath.Base(inst.Engine), inst.EngineVersion, versionLine(eng))
		}
	}
	return nil
}

// installedServer is the server binary a restore starts and its version
// ("" when it cannot be told).
func installedServer(ctx context.Context, in *instance.Instance) (string, string) {
	bin, err := in.ServerBin()
	if err != nil {
		return "", ""
	}
	return bin, toolVersion(ctx, bin, serverVersionRe)
}

// engineVersion is the server version a backup tool is built for.
func engineVersion(ctx context.Context, bin string) string {
	return toolVersion(ctx, bin, engineVersionRe)
}

var (
	// mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64
	// /usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)
	serverVersionRe = regexp.MustCompile(`\bVer\s+(\d+\.\d+\.\d+\S*)`)
	// mariabackup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)
	// xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 Linux (x86_64)
	engineVersionRe = regexp.MustCompile(`based on (?:MariaDB|MySQL) server (\d+\.\d+\.\d+\S*)`)
)

// toolVersion runs bin --version and takes the version re finds in what
// it prints (either stream).
func toolVersion(ctx context.Context, bin string, re *regexp.Regexp) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	m := re.FindStringSubmatch(string(out))
	if m == nil {
		return ""
	}
	text := m[1]
	if re == engineVersionRe && strings.Contains(m[0], "MariaDB") && !strings.Contains(text, "MariaDB") {
		text += "-MariaDB"
	}
	if re == serverVersionRe && strings.Contains(strings.ToLower(string(out)), "mariadb") && !strings.Contains(text, "MariaDB") {
		text += "-MariaDB"
	}
	return text
}

// legacyUnpackFactor estimates a legacy archive's unpacked size from its
// stored size (gzip --fast leaves InnoDB pages and binlogs at about 0.42).
const legacyUnpackFactor = 2.5

// diskUse is the most the restore puts on each filesystem: under
// backup_base the unpacked backup (and a point-in-time or archived
// delta's binlogs), in the data dir's the new datadir, unless it is moved
// there from backup_base on the same filesystem.
func diskUse(cfg *conf.Config, rep *DryRunReport, src source) []DiskUse {
	var unpacked, data int64
	estimate := false
	switch s := src.(type) {
	case *v2Source:
		unpacked = s.manifest.PlainBytes
		data = unpacked
	default:
		unpacked, estimate = int64(float64(rep.StoredBytes)*legacyUnpackFactor), true
		data = unpacked
	}
	if rep.Archive != nil {
		for _, f := range rep.Archive.Files {
			unpacked += int64(f.To)
			data += int64(f.To)
		}
	}
	base := DiskUse{Paths: []string{cfg.BackupBase}, Need: unpacked, Free: freeBytes(existingAncestor(cfg.BackupBase)), Estimate: estimate}
	dd := DiskUse{Paths: []string{cfg.MySQLDataDir}, Need: data, Free: freeBytes(existingAncestor(cfg.MySQLDataDir)), Estimate: estimate}
	if sameFilesystem(existingAncestor(cfg.BackupBase), existingAncestor(cfg.MySQLDataDir)) {
		base.Paths = append(base.Paths, cfg.MySQLDataDir)
		if !cfg.RestoreMove && !cfg.CleanAfterRestore {
			base.Need += dd.Need // copied, not moved
		}
		return []DiskUse{base}
	}
	return []DiskUse{base, dd}
}

// existingAncestor is dir, or its nearest ancestor that exists.
func existingAncestor(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// sameFilesystem says whether a and b are on one device.
func sameFilesystem(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// myCnfDiff reads the backup's my.cnf and compares it with the file the
// restored datadir will start from: this host's own my.cnf in conf_base,
// else the instance's mysql_my_cnf when it lives outside the datadir.
func (v *v2Source) myCnfDiff(ctx context.Context, in *instance.Instance) (*MyCnfDiff, []byte, error) {
	var backup []byte
	err := v.read(ctx, progress.Reporter{Log: in.Log}, catalog.RoleMyCnf, func(r io.Reader) error {
		var err error
		backup, err = io.ReadAll(io.LimitReader(r, 1<<20))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	against := in.OwnMyCnf()
	if against == "" && !instance.Inside(in.Cfg.MySQLDataDir, in.Cfg.MySQLMyCnf) {
		against = in.Cfg.MySQLMyCnf
	}
	d := &MyCnfDiff{Against: against, Changes: []string{}}
	if against == "" {
		return d, backup, nil
	}
	current, err := os.ReadFile(against)
	if errors.Is(err, os.ErrNotExist) {
		d.Against = ""
		return d, backup, nil
	}
	if err != nil {
		return nil, nil, err
	}
	d.Changes = diffOptions(parseOptionFile(backup), parseOptionFile(current))
	return d, backup, nil
}

// refuseRelocation is the refusal of a copy beside the instance
// (--from-port, or a config pointed at another datadir than this host's
// own my.cnf names) whose option file cannot be relocated: it includes
// others, or keeps InnoDB files outside its datadir.
func refuseRelocation(in *instance.Instance, backupCnf []byte) error {
	elsewhere, err := in.OwnMyCnfElsewhere()
	if err != nil || (!elsewhere && in.Cfg.FromPort == "") {
		return err
	}
	data, src := backupCnf, "the backup's my.cnf"
	if own := in.OwnMyCnf(); own != "" {
		if data, err = os.ReadFile(own); err != nil {
			return err
		}
		src = own
	}
	_, _, err = in.Relocated(data, src)
	return err
}

// refuseCodeLoadingOf is the identity step's refusal, planned: with no
// own my.cnf and the datadir's my.cnf the backup's, an unsigned backup's
// my.cnf that loads code is refused.
func refuseCodeLoadingOf(in *instance.Instance, myCnf []byte, signed bool) error {
	if signed || in.OwnMyCnf() != "" || !instance.Inside(in.Cfg.MySQLDataDir, in.Cfg.MySQLMyCnf) {
		return nil
	}
	return loadsCode(in.Cfg, myCnf)
}

// loadsCode refuses an unsigned backup's my.cnf that loads code (plugins,
// init files) as the option file the normal start reads.
func loadsCode(cfg *conf.Config, myCnf []byte) error {
	_, dropped, _ := mysqld.SafeOptions(myCnf, cfg.MySQLDataDir)
	var code []string
	for _, name := range dropped {
		if mysqld.LoadsCode(name) {
			code = append(code, name)
		}
	}
	if len(code) > 0 {
		return fmt.Errorf("the backup's my.cnf sets %s, which the normal start would load, and the backup is not signed: put this host's own my.cnf at %s", strings.Join(code, ", "), filepath.Join(cfg.ConfBase, "my.cnf"))
	}
	return nil
}

// parseOptionFile reads an option file as "[section] option" → value
// (dashes for underscores; "" for an option without a value).
func parseOptionFile(data []byte) map[string]string {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		case line[0] == '!':
			out["!"+line] = ""
			continue
		}
		name, value, _ := strings.Cut(line, "=")
		name = strings.ReplaceAll(strings.TrimSpace(name), "_", "-")
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		out["["+section+"] "+name] = value
	}
	return out
}

// diffOptions lists what differs from the backup's options to the
// current ones.
func diffOptions(backup, current map[string]string) []string {
	keys := map[string]bool{}
	for k := range backup {
		keys[k] = true
	}
	for k := range current {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		b, inB := backup[k]
		c, inC := current[k]
		if _, name, _ := strings.Cut(k, "] "); !instance.ShownOption(name) {
			if b != c {
				b, c = "<redacted>", "<redacted, differs>"
			} else {
				b, c = "<redacted>", "<redacted>"
			}
		}
		switch {
		case !inC:
			out = append(out, fmt.Sprintf("%s: %q in the backup's, not in this host's", k, b))
		case !inB:
			out = append(out, fmt.Sprintf("%s: %q in this host's, not in the backup's", k, c))
		case b != c:
			out = append(out, fmt.Sprintf("%s: %q in the backup's, %q in this host's", k, b, c))
		}
	}
	sort.Strings(out)
	return out
}
