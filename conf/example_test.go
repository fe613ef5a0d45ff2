package conf

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestExampleConfigLoadsAndDocumentsEveryKey(t *testing.T) {
	if _, err := Load(Options{Path: "../conf.example.yaml", Now: fixedNow}); err != nil {
		t.Fatalf("conf.example.yaml does not load: %v", err)
	}
	data, err := os.ReadFile("../conf.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Replication](), reflect.TypeFor[Source]()} {
		for key := range fieldsByKey(typ) {
			if !strings.Contains(string(data), key+":") {
				t.Errorf("conf.example.yaml does not mention key %q", key)
			}
		}
	}
}
