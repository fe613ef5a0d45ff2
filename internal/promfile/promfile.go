// Package promfile writes metrics in the Prometheus text exposition format
// to files for node_exporter's textfile collector: atomically (a scrape
// never sees half a file), and merged with what the file held, so a failed
// run keeps the series it does not rewrite, such as the last success time.
package promfile

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
)

// NaN is the value of a sample that is unknown.
var NaN = math.NaN()

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Sample is one gauge series.
type Sample struct {
	Name   string
	Help   string
	Labels []Label
	Value  float64
}

// series is one rendered line of a metric, kept by its name{labels} key.
type series struct{ key, line string }

// Write replaces the file with samples.
func Write(path string, samples []Sample) error {
	return write(path, nil, samples)
}

// Merge writes samples into the file, keeping the series of the file that
// samples do not name again.
// Processes merging into one file at once (the ports of one host, run
// with --jobs, sharing metrics_file) take turns on an flock of
// path+".lock", so that none loses another's series.
func Merge(path string, samples []Sample) error {
	lk, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lk.Close()
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lk.Name(), err)
	}
	old, err := read(path)
	if err != nil {
		return err
	}
	return write(path, old, samples)
}

type metric struct {
	help   string
	series []series
}

func write(path string, old map[string]*metric, samples []Sample) error {
	order, metrics := []string{}, map[string]*metric{}
	add := func(name, help string) *metric {
		m, ok := metrics[name]
		if !ok {
			m = &metric{help: help}
			metrics[name] = m
			order = append(order, name)
		}
		return m
	}
	fresh := map[string]bool{}
	for _, s := range samples {
		key := s.Name + labelText(s.Labels)
		fresh[key] = true
		add(s.Name, s.Help).series = append(add(s.Name, s.Help).series, series{key, key + " " + valueText(s.Value)})
	}
	for name, om := range old {
		for _, se := range om.series {
			if !fresh[se.key] {
				m := add(name, om.help)
				m.series = append(m.series, se)
			}
		}
	}
	var b strings.Builder
	for _, name := range order {
		m := metrics[name]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, m.help, name)
		for _, se := range m.series {
			b.WriteString(se.line + "\n")
		}
	}
	if err := atomicfile.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	return nil
}

func labelText(ls []Label) string {
	if len(ls) == 0 {
		return ""
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + `="` + esc.Replace(l.Value) + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func valueText(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// read parses a file this package wrote; a missing file is empty.
func read(path string) (map[string]*metric, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metrics file: %w", err)
	}
	defer f.Close()
	out := map[string]*metric{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, help, _ := strings.Cut(rest, " ")
			out[name] = &metric{help: help}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		key := line[:i]
		name, _, _ := strings.Cut(key, "{")
		m, ok := out[name]
		if !ok {
			m = &metric{}
			out[name] = m
		}
		m.series = append(m.series, series{key, line})
	}
	return out, sc.Err()
}
