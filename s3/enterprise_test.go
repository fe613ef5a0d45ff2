package s3_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// putAndGet stores data at key and reads it back whole.
func putAndGet(t *testing.T, st s3.Store, key string, data []byte) error {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data), nil); err != nil {
		return err
	}
	r, err := st.Get(t.Context(), key, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil && !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, not the %d stored", len(got), len(data))
	}
	return err
}

func TestBucketOverTLSTrustsThePrivateCAItIsGiven(t *testing.T) {
	m := testbed.StartMinIOTLS(t)
	if err := putAndGet(t, m.Store(), "tls/obj", bytes.Repeat([]byte("tls"), 4<<20)); err != nil {
		t.Fatalf("over https with the CA: %v", err)
	}
	sc := m.StoreConfig()
	sc.RootCAs, sc.MaxAttempts = nil, 1
	err := putAndGet(t, s3.New(sc), "tls/untrusted", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate verification error", err)
	}
}

func TestBucketWithoutKeysUsesTheAWSChain(t *testing.T) {
	m := testbed.StartMinIO(t)
	sc := m.StoreConfig()
	sc.AccessKey, sc.SecretKey, sc.MaxAttempts = "", "", 1
	t.Run("Environment", func(t *testing.T) {
		testbed.IsolateAWSChain(t)
		t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
		if err := putAndGet(t, s3.New(sc), "chain/env", []byte("from the environment")); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		if err := putAndGet(t, s3.New(sc), "chain/env-wrong", []byte("x")); err == nil {
			t.Error("a wrong secret in the environment was accepted: the keys did not come from it")
		}
	})
	t.Run("SharedCredentialsFile", func(t *testing.T) {
		testbed.IsolateAWSChain(t)
		creds := "[default]\naws_access_key_id = " + m.AccessKey + "\naws_secret_access_key = " + m.SecretKey + "\n"
		if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := putAndGet(t, s3.New(sc), "chain/file", []byte("from ~/.aws/credentials")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NothingFoundNamesTheChain", func(t *testing.T) {
		testbed.IsolateAWSChain(t)
		err := putAndGet(t, s3.New(sc), "chain/none", []byte("x"))
		if err == nil || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("no credentials anywhere: %v, want an error about credentials", err)
		}
	})
}

func TestThrottleCarriesEveryUploadedByteAndNoDownloadedOne(t *testing.T) {
	m := testbed.StartMinIO(t)
	th := s3.NewThrottle(1 << 30)
	sc := m.StoreConfig()
	sc.Upload = th
	st := s3.New(sc)
	data := bytes.Repeat([]byte{1, 2, 3}, 4<<20) // 12 MiB: 3 parts, 2 at once
	if err := st.Put(t.Context(), "throttle/big", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	up := th.Sent()
	if up < int64(len(data)) {
		t.Fatalf("the throttle let %d bytes go for a %d-byte upload", up, len(data))
	}
	if err := putAndGet(t, st, "throttle/small", []byte("small")); err != nil {
		t.Fatal(err)
	}
	if n := th.Sent() - up; n < 5 || n > 64<<10 {
		t.Errorf("a 5-byte put and its download counted %d bytes, want the put's body only", n)
	}
}
