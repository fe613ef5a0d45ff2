package dirstore

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestListDuringARemovalOfAnotherDateIsWhole: a Delete (the prune of the
// oldest date, on another host) that removes a directory while a List
// walks the tree must not end the List early: a short listing without an
// error made bootstrap take a group for one without backups.
func TestListDuringARemovalOfAnotherDateIsWhole(t *testing.T) {
	ctx := context.Background()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		key := fmt.Sprintf("2026_11_%02d/3309/mysql-3309.tgz.des3", i)
		if err := d.Put(ctx, key, bytes.NewReader([]byte("x")), map[string]string{"sha1": "y"}); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			key := "2026_10_01/3309/mysql-3309.tgz.des3" // the oldest date: the one prune removes
			_ = d.Put(ctx, key, bytes.NewReader([]byte("x")), nil)
			_ = d.Delete(ctx, key)
		}
	}()
	short := 0
	for i := 0; i < 3000; i++ {
		objs, err := d.List(ctx, "")
		if err != nil {
			t.Fatalf("List during a removal: %v", err)
		}
		n := 0
		for _, o := range objs {
			if o.Key != "2026_10_01/3309/mysql-3309.tgz.des3" {
				n++
			}
		}
		if n < 20 {
			short++
			if short == 1 {
				t.Logf("List returned %d of 20 newer objects and no error", n)
			}
		}
	}
	stop.Store(true)
	<-done
	if short > 0 {
		t.Fatalf("%d of 3000 listings were truncated without an error", short)
	}
}
