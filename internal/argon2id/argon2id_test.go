package argon2id

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
)

// TestIDKeyMatchesUpstream compares IDKey with golang.org/x/crypto/argon2
// across the parameters that shape the computation: passes, memory (and
// its rounding to whole segments), lanes and key lengths. Each case runs
// twice, the second time on blocks a different password left dirty, as a
// pooled buffer is in use.
func TestIDKeyMatchesUpstream(t *testing.T) {
	tests := []struct {
		time, memory uint32
		threads      uint8
		keyLen       uint32
	}{
		{1, 8, 1, 32},
		{1, 64, 1, 32},
		{2, 64, 1, 32},
		{3, 256, 1, 16},
		{2, 100, 1, 32}, // rounded down to whole segments
		{1, 3, 1, 32},   // raised to the minimum
		{2, 64, 2, 32},
		{2, 257, 3, 64},
		{1, 512, 4, 100}, // keyLen > 64: blake2b's long output
		{2, 19 * 1024, 1, 32},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("t=%d,m=%d,p=%d,len=%d", tt.time, tt.memory, tt.threads, tt.keyLen)
		t.Run(name, func(t *testing.T) {
			for i, pw := range []string{"correct horse battery staple", "another password"} {
				salt := []byte(fmt.Sprintf("salt-%d-somesalt", i))
				want := argon2.IDKey([]byte(pw), salt, tt.time, tt.memory, tt.threads, tt.keyLen)
				got := IDKey([]byte(pw), salt, tt.time, tt.memory, tt.threads, tt.keyLen)
				if !bytes.Equal(got, want) {
					t.Errorf("round %d: IDKey = %x, x/crypto = %x", i, got, want)
				}
			}
		})
	}
}

// TestIDKeyVectors are x/crypto's own Argon2id test vectors
// (argon2_test.go), which this fork must keep producing.
func TestIDKeyVectors(t *testing.T) {
	tests := []struct {
		time, memory uint32
		threads      uint8
		hash         string
	}{
		{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
		{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
		{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
		{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
		{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
		{2, 64, 3, "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
		{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("t=%d,m=%d,p=%d", tt.time, tt.memory, tt.threads), func(t *testing.T) {
			got := IDKey([]byte("password"), []byte("somesalt"), tt.time, tt.memory, tt.threads, 24)
			if h := hex.EncodeToString(got); h != tt.hash {
				t.Errorf("IDKey = %s, want %s", h, tt.hash)
			}
		})
	}
}

// TestIDKeyConcurrent hashes from many goroutines at once, sharing the
// pool: each result must be its own input's (run with -race).
func TestIDKeyConcurrent(t *testing.T) {
	const n = 16
	want := make([][]byte, n)
	for i := range want {
		want[i] = argon2.IDKey([]byte(fmt.Sprint("password", i)), []byte("somesaltsomesalt"), 1, 256, uint8(1+i%2), 32)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for range 3 {
				got := IDKey([]byte(fmt.Sprint("password", i)), []byte("somesaltsomesalt"), 1, 256, uint8(1+i%2), 32)
				if !bytes.Equal(got, want[i]) {
					t.Errorf("goroutine %d: IDKey = %x, want %x", i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzIDKey compares IDKey with x/crypto on arbitrary inputs and small
// parameters; the pool carries blocks from one input to the next.
func FuzzIDKey(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(1), uint16(64), uint8(1), uint8(32))
	f.Add([]byte(""), []byte(""), uint8(2), uint16(8), uint8(3), uint8(4))
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads, keyLen uint8) {
		tm, m, p, k := uint32(time%3)+1, uint32(memory%512), threads%4+1, uint32(keyLen%96)+4
		want := argon2.IDKey(password, salt, tm, m, p, k)
		if got := IDKey(password, salt, tm, m, p, k); !bytes.Equal(got, want) {
			t.Errorf("IDKey(t=%d, m=%d, p=%d, len=%d) = %x, x/crypto = %x", tm, m, p, k, got, want)
		}
	})
}

// BenchmarkIDKey is a login's hash (19 MiB, two passes, one lane) with
// this package and with x/crypto:
//
//	go test -run '^$' -bench IDKey -benchmem ./internal/argon2id
func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	for _, impl := range []struct {
		name string
		key  func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	}{
		{"pooled", IDKey},
		{"x-crypto", argon2.IDKey},
	} {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				impl.key(pw, salt, 2, 19*1024, 1, 32)
			}
		})
	}
}

// TestLargeMemoryIsNotPooled: a hash above maxPooled gets the right key
// from memory of its own, and leaves no pool holding it.
func TestLargeMemoryIsNotPooled(t *testing.T) {
	defer func(m uint32) { maxPooled = m }(maxPooled)
	maxPooled = 64
	const memory = 128
	for i := range 2 {
		want := argon2.IDKey([]byte("password"), []byte("somesaltsomesalt"), 2, memory, 1, 32)
		if got := IDKey([]byte("password"), []byte("somesaltsomesalt"), 2, memory, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("round %d: IDKey = %x, want %x", i, got, want)
		}
	}
	if _, ok := pools.Load(uint32(memory)); ok {
		t.Errorf("a pool of %d blocks exists, above maxPooled (%d)", memory, maxPooled)
	}
}

// TestGenericBlockMatches: the portable block function (built alone on
// other architectures) computes what this build's does, written and XORed.
func TestGenericBlockMatches(t *testing.T) {
	var in1, in2, out0 block
	for i := range in1 {
		in1[i], in2[i], out0[i] = uint64(i)*0x9e3779b97f4a7c15, ^uint64(i)*0xbf58476d1ce4e5b9, uint64(i)<<7
	}
	for _, xor := range []bool{false, true} {
		want, got := out0, out0
		if xor {
			processBlockXOR(&want, &in1, &in2)
		} else {
			processBlock(&want, &in1, &in2)
		}
		processBlockGeneric(&got, &in1, &in2, xor)
		if got != want {
			t.Errorf("xor=%v: the generic block differs from this build's", xor)
		}
	}
}
