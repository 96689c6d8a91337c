// Command cryptofix is the differential listing test's fixture: it reaches the hand-written
// assembly of crypto/sha1, crypto/sha256 and ChaCha20-Poly1305 (SHA extensions, AVX2, BMI2's
// RORX/ANDN on amd64; NEON and SHA on arm64), internal/bytealg (AVX2 VPCMPEQB/VPMOVMSKB), and
// sync/atomic (LSE atomics on arm64 when built with GOARM64=v8.1). Built with Go 1.26 or newer
// (crypto/hpke); never run by the tests, only disassembled.
package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

var (
	counter atomic.Int64
	flag    atomic.Uint32
	ptr     atomic.Pointer[string]
)

func main() {
	data := []byte(strings.Repeat(os.Args[0], 64))
	fmt.Printf("%x\n%x\n", sha1.Sum(data), sha256.Sum256(data))

	kem := hpke.DHKEM(ecdh.X25519())
	priv, err := kem.GenerateKey()
	if err != nil {
		panic(err)
	}
	ct, err := hpke.Seal(priv.PublicKey(), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), nil, data)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(ct))

	fmt.Println(bytes.IndexByte(data, 'z'), bytes.Count(data, []byte("go")),
		strings.Index(string(data), "xyz"), bytes.Compare(data, ct), bytes.Equal(data, ct))

	counter.Add(int64(len(data)))
	flag.CompareAndSwap(0, 1)
	old := ptr.Swap(&os.Args[0])
	fmt.Println(counter.Load(), flag.Or(4), old == nil)
}
