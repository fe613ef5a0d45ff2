package promfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestWriteUsesTheTextFormatAndEscapesLabels(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.prom")
	err := Write(p, []Sample{
		{Name: "x_up", Help: "Up.", Labels: []Label{{"socket", `/run/a"b\c`}}, Value: 1},
		{Name: "x_lag", Help: "Lag.", Labels: []Label{{"channel", "master-2"}}, Value: NaN},
		{Name: "x_lag", Help: "Lag.", Labels: []Label{{"channel", "master-3"}}, Value: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := `# HELP x_up Up.
# TYPE x_up gauge
x_up{socket="/run/a\"b\\c"} 1
# HELP x_lag Lag.
# TYPE x_lag gauge
x_lag{channel="master-2"} NaN
x_lag{channel="master-3"} 0.5
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestMergeKeepsSeriesItDoesNotRewrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.prom")
	ok := Label{"command", "backup"}
	if err := Merge(p, []Sample{
		{Name: "last_success", Help: "S.", Labels: []Label{ok}, Value: 100},
		{Name: "last_run", Help: "R.", Labels: []Label{ok}, Value: 100},
		{Name: "last_run", Help: "R.", Labels: []Label{{"command", "restore"}}, Value: 50},
	}); err != nil {
		t.Fatal(err)
	}
	// A failed run: no last_success sample, a new last_run.
	if err := Merge(p, []Sample{{Name: "last_run", Help: "R.", Labels: []Label{ok}, Value: 200}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	for _, want := range []string{`last_success{command="backup"} 100`, `last_run{command="backup"} 200`, `last_run{command="restore"} 50`} {
		if !strings.Contains(string(got), want+"\n") {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), `last_run{command="backup"} 100`) || strings.Count(string(got), "# TYPE last_run gauge") != 1 {
		t.Errorf("stale or duplicated series:\n%s", got)
	}
}

func TestConcurrentMergesIntoOneFileKeepEverySeries(t *testing.T) {
	// The ports of a host run at once (--jobs) and share metrics_file.
	path := filepath.Join(t.TempDir(), "m.prom")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			s := Sample{Name: "x", Help: "h", Labels: []Label{{Name: "port", Value: strconv.Itoa(3300 + i)}}, Value: float64(i)}
			if err := Merge(path, []Sample{s}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if want := fmt.Sprintf("x{port=\"%d\"} %d\n", 3300+i, i); !strings.Contains(string(data), want) {
			t.Errorf("series of port %d lost:\n%s", 3300+i, data)
		}
	}
}
