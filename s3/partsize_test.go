package s3

import "testing"

func TestPartSizeForGrowsOnlyWhenTheObjectWouldNotFitTheParts(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ expected, min, want int64 }{
		{0, 16 * mib, 16 * mib},
		{100 * 1024 * mib, 16 * mib, 16 * mib},       // 100 GiB fits 16 MiB parts
		{200 * 1024 * mib, 16 * mib, 23 * mib},       // 200 GiB needs 23 MiB
		{4 * 1024 * 1024 * mib, 16 * mib, 467 * mib}, // 4 TiB
	} {
		got := PartSizeFor(c.expected, c.min)
		if got != c.want {
			t.Errorf("PartSizeFor(%d MiB, %d MiB) = %d MiB, want %d MiB", c.expected/mib, c.min/mib, got/mib, c.want/mib)
		}
		if c.expected > 0 && c.expected/got >= MaxParts {
			t.Errorf("%d MiB in %d MiB parts exceeds %d parts", c.expected/mib, got/mib, MaxParts)
		}
	}
}

func TestBucketForSizeIsItselfUnlessItsPartsAreTooSmall(t *testing.T) {
	const mib = 1 << 20
	b := New(Config{Bucket: "b", PartSize: 16 * mib})
	if b.ForSize(100*1024*mib) != b {
		t.Error("100 GiB in 16 MiB parts: a new bucket, want the same one")
	}
	if got := b.ForSize(200 * 1024 * mib).PartSize(); got != 23*mib || b.PartSize() != 16*mib {
		t.Errorf("200 GiB: parts %d MiB, original %d MiB; want 23 MiB and the original unchanged at 16", got/mib, b.PartSize()/mib)
	}
}
