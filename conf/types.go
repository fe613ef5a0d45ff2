// Package conf loads the per-port configuration of mysqlbackup: the legacy
// conf.yaml of mysqlbackup.py, read strictly, with command-line overrides,
// derived paths and names, validation and a redacted dump.
package conf

import (
	"fmt"
	"log/slog"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Secret is a string that never prints itself: fmt, slog and YAML output show
// "<redacted>" instead of the value. Reveal returns the value for the one
// place that really needs it.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without showing the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer without showing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer without showing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML implements yaml.Marshaler without showing the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Number is a non-negative decimal integer kept as its digits. The legacy
// tool reads `port` and `instance_id` as YAML ints from the file but as
// strings from the command line, and concatenates them into
// tmp_server_id, so both spellings are accepted.
type Number string

// UnmarshalYAML accepts an unsigned integer or a string of decimal digits.
func (n *Number) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a number, got a %s", kindName(node.Kind))
	}
	if !isDigits(node.Value) {
		return fmt.Errorf("want a whole number, got %q", node.Value)
	}
	*n = Number(node.Value)
	return nil
}

// MarshalYAML writes the number as a YAML int.
func (n Number) MarshalYAML() (any, error) {
	if v, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return v, nil
	}
	return string(n), nil
}

// Uint returns the value, or an error if it does not fit 64 bits.
func (n Number) Uint() (uint64, error) { return strconv.ParseUint(string(n), 10, 64) }

// Int returns the value as an int; it is meant for numbers already validated.
func (n Number) Int() int {
	v, _ := strconv.Atoi(string(n))
	return v
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}
