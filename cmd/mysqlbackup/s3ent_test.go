package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// TestBackupAndVerifyOverTLSWithAPrivateCA backs up to a MinIO that serves
// https only, under a certificate of a CA made here, with s3_ca_file, the
// upload limit and the engine's throttle set; verify reads it back. The
// same config without the CA, or with a CA file that is missing or not a
// certificate, fails and says why.
func TestBackupAndVerifyOverTLSWithAPrivateCA(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIOTLS(t)
	in.Exec("CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "INSERT INTO d.t VALUES (1),(2),(3)")
	base := "purge_binlog_days: 0\ns3_max_upload_mb_per_s: 50\nxtrabackup_throttle: 1000\n"
	confPath := instanceConf(t, in, m, base+"s3_ca_file: "+m.CA.CAFile+"\n")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup over https with s3_ca_file: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "verify ok: s3") {
		t.Fatalf("verify over https: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}

	noCA := instanceConf(t, in, m, base)
	if r := runCLI(t, "--conf-path", noCA, "--s3-host", m.Endpoint, "list"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "failed to verify certificate") {
		t.Errorf("without s3_ca_file: exit %d %q, want 1 and a certificate verification error", r.code, lastLine(r.stderr))
	}
	missing := filepath.Join(in.ConfBase, "no-such-ca.pem")
	notPEM := filepath.Join(in.ConfBase, "des3_password")
	for _, tt := range []struct{ file, want string }{
		{missing, "s3_ca_file: open " + missing + ": no such file or directory"},
		{notPEM, "s3_ca_file: " + notPEM + " holds no PEM certificate"},
	} {
		bad := instanceConf(t, in, m, base+"s3_ca_file: "+tt.file+"\n")
		if r := runCLI(t, "--conf-path", bad, "list"); r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("s3_ca_file %s: exit %d %q, want %d and one line with %q", tt.file, r.code, r.stderr, exitUsage, tt.want)
		}
	}
}

// TestListWithoutKeysInTheConfigTakesThemFromTheEnvironment runs list with
// a config that has no s3_access_key/s3_secret_key: the keys come from
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and without them the error
// says credentials are what is missing.
func TestListWithoutKeysInTheConfigTakesThemFromTheEnvironment(t *testing.T) {
	m := testbed.StartMinIO(t)
	key := testDate + "/3309/mysql-3309.tgz.des3"
	if err := m.Store().Put(t.Context(), key, bytes.NewReader([]byte("archive")), map[string]string{"sha1": "feed"}); err != nil {
		t.Fatal(err)
	}
	confPath := confFile(t, t.TempDir(), "s3_host: "+m.HostPort+"\ns3_bucket: "+m.Bucket+"\n")
	testbed.IsolateAWSChain(t)
	if r := runCLI(t, "--conf-path", confPath, "list"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "get credentials") {
		t.Errorf("no keys anywhere: exit %d %q, want 1 and an error about credentials", r.code, lastLine(r.stderr))
	}
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	r := runCLI(t, "--conf-path", confPath, "list")
	if r.code != 0 || !strings.Contains(r.stdout, testDate) {
		t.Errorf("keys in the environment: exit %d, stdout %q, %s; want the backup listed", r.code, r.stdout, lastLine(r.stderr))
	}
	if strings.Contains(r.stdout+r.stderr, m.SecretKey) {
		t.Error("the secret key from the environment was printed")
	}
}
