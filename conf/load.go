package conf

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Overrides are the legacy command-line options that replace a key of the
// file. A nil field was not given.
type Overrides struct {
	MySQLBase   *string
	Host        *string
	DataBase    *string
	BackupBase  *string
	Port        *string
	InstanceID  *string
	DateStr     *string
	S3Host      *string
	S3Bucket    *string
	S3AccessKey *string
	S3SecretKey *string
	// BackupStoreDir replaces backup_store_dir.
	BackupStoreDir *string
	// CleanAfterRestore, when set, replaces clean_after_restore of the file.
	CleanAfterRestore *bool
}

// Options says where a configuration comes from.
type Options struct {
	// Path is the YAML file; "" means no file, every key from Overrides.
	Path      string
	Overrides Overrides
	// Now gives the default date_str; the zero time means time.Now().
	Now time.Time
}

// Load reads the file, applies the overrides, derives the missing keys in
// dependency order and validates the result. Every error it returns is an
// *Error.
func Load(opts Options) (*Config, error) {
	c := &Config{Path: opts.Path}
	if opts.Path != "" {
		if err := c.readFile(opts.Path); err != nil {
			return nil, err
		}
	}
	if err := c.applyOverrides(opts.Overrides); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := c.derive(now); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{File: path, Msg: cleanOSError(err)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return &Error{File: path, Msg: "not valid YAML: " + cleanYAMLError(err)}
	}
	d := decoder{file: path}
	if err := d.document(&doc, c); err != nil {
		return err
	}
	c.Ignored = d.ignored
	if c.ConfBase == "" {
		c.ConfBase = confBaseOf(path)
	}
	return nil
}

// confBaseOf is the legacy default of conf_base: the directory of the
// configuration file after resolving symbolic links.
func confBaseOf(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return filepath.Dir(path)
}

func (c *Config) applyOverrides(o Overrides) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.MySQLBase, o.MySQLBase)
	set(&c.Host, o.Host)
	set(&c.DataBase, o.DataBase)
	set(&c.BackupBase, o.BackupBase)
	set(&c.DateStr, o.DateStr)
	set(&c.S3Host, o.S3Host)
	set(&c.S3Bucket, o.S3Bucket)
	set(&c.S3AccessKey, o.S3AccessKey)
	set(&c.BackupStoreDir, o.BackupStoreDir)
	if o.S3SecretKey != nil {
		c.S3SecretKey = Secret(*o.S3SecretKey)
	}
	if o.CleanAfterRestore != nil {
		c.CleanAfterRestore = *o.CleanAfterRestore
	}
	for _, n := range []struct {
		flag string
		dst  *Number
		v    *string
	}{{"--port", &c.Port, o.Port}, {"--instance-id", &c.InstanceID, o.InstanceID}} {
		if n.v == nil {
			continue
		}
		if !isDigits(*n.v) {
			return &Error{Key: n.flag, Msg: "want a whole number, got " + quote(*n.v)}
		}
		*n.dst = Number(*n.v)
	}
	return nil
}

func cleanOSError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
