package conf

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a configuration error: a bad file, key or value. It names the
// file, the line when there is one, and the key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" " + e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// decoder fills a struct from a YAML mapping strictly: unknown keys,
// duplicate keys and values of the wrong type are errors that name the key
// and its line. A null value leaves the field unset.
type decoder struct {
	file    string
	ignored []string
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) document(doc *yaml.Node, out *Config) error {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &Error{File: d.file, Msg: "file is empty"}
	}
	return d.mapping(doc.Content[0], reflect.ValueOf(out).Elem(), "")
}

func (d *decoder) mapping(n *yaml.Node, out reflect.Value, prefix string) error {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return d.fail(n, strings.TrimSuffix(prefix, "."), "want a mapping of keys, got a %s", kindName(n.Kind))
	}
	fields := fieldsByKey(out.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		key := prefix + k.Value
		if seen[k.Value] {
			return d.fail(k, key, "key appears twice")
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		switch {
		case !ok && prefix == "" && legacyForcedKeys[k.Value]:
			d.ignored = append(d.ignored, k.Value)
			continue
		case !ok:
			return d.fail(k, key, "unknown key")
		case v.Tag == "!!null":
			continue
		}
		if err := d.value(v, out.Field(idx), key); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) value(n *yaml.Node, f reflect.Value, key string) error {
	if _, custom := f.Addr().Interface().(yaml.Unmarshaler); custom {
		if err := n.Decode(f.Addr().Interface()); err != nil {
			return d.fail(n, key, "%s", cleanYAMLError(err))
		}
		return nil
	}
	switch f.Kind() {
	case reflect.Pointer:
		f.Set(reflect.New(f.Type().Elem()))
		return d.value(n, f.Elem(), key)
	case reflect.Struct:
		return d.mapping(n, f, key+".")
	case reflect.Slice:
		return d.list(n, f, key)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.fail(n, key, "want a string, got a %s", kindName(n.Kind))
		}
		f.SetString(n.Value)
		return nil
	case reflect.Bool, reflect.Int, reflect.Float64:
		v := reflect.New(f.Type())
		if n.Kind != yaml.ScalarNode || n.Decode(v.Interface()) != nil {
			return d.fail(n, key, "want %s, got %s", scalarWant[f.Kind()], describe(n))
		}
		f.Set(v.Elem())
		return nil
	}
	return d.fail(n, key, "unsupported field type %s", f.Type())
}

// scalarWant says what a scalar field of each kind takes.
var scalarWant = map[reflect.Kind]string{reflect.Bool: "true or false", reflect.Int: "a whole number", reflect.Float64: "a number"}

func (d *decoder) list(n *yaml.Node, f reflect.Value, key string) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(n, key, "want a list, got %s", describe(n))
	}
	s := reflect.MakeSlice(f.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if err := d.value(resolveAlias(item), s.Index(i), fmt.Sprintf("%s[%d]", key, i)); err != nil {
			return err
		}
	}
	f.Set(s)
	return nil
}

func fieldsByKey(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return "a " + kindName(n.Kind)
}

// cleanYAMLError turns yaml.v3's multi-line "unmarshal errors" into one line.
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return strings.Join(strings.Fields(msg), " ")
}
