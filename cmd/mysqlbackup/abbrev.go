package main

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// expandFlagPrefixes writes every unambiguous prefix of a long flag in
// args out in full, as Python's argparse let the legacy command lines
// abbreviate (--conf, --clean, --date); kong knows whole names only. The
// candidates are the flags kong accepts at that point: the root's, and
// after the subcommand the subcommand's too. An exact name always wins; a
// prefix of several names is an error naming them; an unknown flag is left
// for kong to refuse. Positional arguments, flag values and everything
// after "--" are never touched.
func expandFlagPrefixes(app *kong.Application, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	node := app.Node
	for i := 0; i < len(args); i++ {
		a := args[i]
		valueNext := false
		switch {
		case a == "--":
			return append(out, args[i:]...), nil
		case strings.HasPrefix(a, "--"):
			full, f, err := expandLong(node, a)
			if err != nil {
				return nil, err
			}
			a, valueNext = full, f != nil && takesValue(f) && !strings.Contains(a, "=")
		case strings.HasPrefix(a, "-") && a != "-":
			valueNext = shortsWantNext(node, a[1:])
		default:
			if child := subcommand(node, a); child != nil {
				node = child
			}
		}
		out = append(out, a)
		if valueNext && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out, nil
}

// expandLong is the flag argument a ("--name" or "--name=value") with the
// name written out in full, and the flag it names (nil when none).
func expandLong(node *kong.Node, a string) (string, *kong.Flag, error) {
	name, value, hasValue := strings.Cut(a[2:], "=")
	names := longNames(node)
	if f, ok := names[name]; ok || name == "" {
		return a, f, nil
	}
	var matches []string
	for n := range names {
		if strings.HasPrefix(n, name) {
			matches = append(matches, n)
		}
	}
	if len(matches) > 1 {
		// The legacy command line's own flags (the root's) keep their
		// abbreviations when a subcommand's flags share the prefix:
		// "backup --conf x" is --conf-path, not --conf-base or --conf-fn.
		var global []string
		for _, m := range matches {
			if isRootFlag(node, names[m]) {
				global = append(global, m)
			}
		}
		if len(global) == 1 {
			matches = global
		}
	}
	switch len(matches) {
	case 0:
		return a, nil, nil
	case 1:
	default:
		slices.Sort(matches)
		return "", nil, fmt.Errorf("ambiguous option: --%s could match --%s", name, strings.Join(matches, ", --"))
	}
	full := "--" + matches[0]
	if hasValue {
		full += "=" + value
	}
	return full, names[matches[0]], nil
}

// isRootFlag says whether f is one of the root's (global) flags.
func isRootFlag(node *kong.Node, f *kong.Flag) bool {
	for node.Parent != nil {
		node = node.Parent
	}
	return slices.Contains(node.Flags, f)
}

// longNames are the long names kong accepts on node: its flags and its
// parents', their aliases and their --no- forms.
func longNames(node *kong.Node) map[string]*kong.Flag {
	names := map[string]*kong.Flag{}
	for f := range flagsOf(node) {
		names[f.Name] = f
		for _, a := range f.Aliases {
			names[a] = f
		}
		switch neg := f.Tag.Negatable; neg {
		case "":
		case "_": // kong's mark of the default negation, --no-<name>
			names["no-"+f.Name] = f
		default:
			names[neg] = f
		}
	}
	return names
}

// flagsOf are the flags of node and of its parents (kong's AllFlags, which
// also marks them active: not before the parse).
func flagsOf(node *kong.Node) iter.Seq[*kong.Flag] {
	return func(yield func(*kong.Flag) bool) {
		for n := node; n != nil; n = n.Parent {
			for _, f := range n.Flags {
				if !yield(f) {
					return
				}
			}
		}
	}
}

// shortsWantNext says whether the short flags of a cluster ("v", "vv",
// "o") end with one whose value is the next argument.
func shortsWantNext(node *kong.Node, cluster string) bool {
	for i, r := range cluster {
		f := shortFlag(node, r)
		if f == nil {
			return false
		}
		if takesValue(f) {
			return i+len(string(r)) == len(cluster)
		}
	}
	return false
}

func shortFlag(node *kong.Node, r rune) *kong.Flag {
	for f := range flagsOf(node) {
		if f.Short == r {
			return f
		}
	}
	return nil
}

func takesValue(f *kong.Flag) bool { return !f.IsBool() && !f.IsCounter() }

// subcommand is node's subcommand named (or aliased) name, or nil.
func subcommand(node *kong.Node, name string) *kong.Node {
	for _, c := range node.Children {
		if c.Type == kong.CommandNode && (c.Name == name || slices.Contains(c.Aliases, name)) {
			return c
		}
	}
	return nil
}
