// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package argon2id is golang.org/x/crypto/argon2's Argon2id (v0.58.0),
// changed in where its memory comes from: IDKey returns the same key as
// argon2.IDKey for the same arguments (the tests compare them), but takes
// its blocks from a pool instead of allocating and zeroing them for every
// call.
//
// Why: a login hashes with 19 MiB. Allocated afresh, each hash is 19 MiB of
// garbage, cleared before use and faulted in again once the runtime has
// released it; reused, the hash runs 15-20% faster on the same core
// (BenchmarkIDKey) and a burst of logins stops driving the collector.
// golang.org/x/crypto/argon2 takes no caller memory; MinIO's fork
// (github.com/minio/argon2) made the same change but is not published as
// a module that can be fetched here.
//
// What changed against upstream, all in this file unless said:
//   - blocks come from a sync.Pool per memory size (up to 256 MiB), and
//     go back after the key is extracted;
//   - the first pass writes each block instead of XORing it into memory
//     that upstream had just zeroed (for a zero block the two are equal;
//     for a reused one only the write is right), so no block is cleared;
//   - with one lane, the segments run on the caller's goroutine instead of
//     one new goroutine each;
//   - only Argon2id is kept, and architectures without upstream's SSE
//     assembly (loong64's included) use the portable block function
//     (blamka_ref.go, blamka_generic.go).
//
// A pooled block still holds the previous hash's state until it is
// overwritten, as garbage memory does until it is reused; neither leaves
// the process.
package argon2id

import (
	"encoding/binary"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version implemented: 1.3 (0x13), as RFC 9106.
const Version = 0x13

const argon2id = 2 // the type, as hashed into H0

// IDKey derives a key from password and salt with Argon2id, as
// golang.org/x/crypto/argon2.IDKey does: time passes over memory KiB with
// threads lanes, keyLen bytes of output. time and threads must be at least 1.
func IDKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2id: number of rounds too small")
	}
	if threads < 1 {
		panic("argon2id: parallelism degree too low")
	}
	h0 := initHash(password, salt, nil, nil, time, memory, uint32(threads), keyLen, argon2id)

	memory = memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	if memory < 2*syncPoints*uint32(threads) {
		memory = 2 * syncPoints * uint32(threads)
	}
	B := getBlocks(memory)
	defer putBlocks(B)
	initBlocks(*B, &h0, memory, uint32(threads))
	processBlocks(*B, time, memory, uint32(threads), argon2id)
	return extractKey(*B, memory, uint32(threads), keyLen)
}

// pools holds a *sync.Pool of *[]block per memory size (in blocks): a
// server hashes new passwords with one size and verifies old hashes with
// whatever size they were made with.
var pools sync.Map

// maxPooled bounds the memory (in blocks, KiB) a pool keeps: a larger
// hash, rare and perhaps from a hash made elsewhere, allocates its blocks
// as upstream does, so that they do not stay resident after it.
var maxPooled uint32 = 256 << 10 // a variable for the tests

func getBlocks(memory uint32) *[]block {
	if memory > maxPooled {
		b := make([]block, memory)
		return &b
	}
	p, ok := pools.Load(memory)
	if !ok {
		p, _ = pools.LoadOrStore(memory, &sync.Pool{New: func() any {
			b := make([]block, memory)
			return &b
		}})
	}
	return p.(*sync.Pool).Get().(*[]block)
}

func putBlocks(b *[]block) {
	if p, ok := pools.Load(uint32(len(*b))); ok {
		p.(*sync.Pool).Put(b)
	}
}

const (
	blockLength = 128
	syncPoints  = 4
)

type block [blockLength]uint64

func initHash(password, salt, key, data []byte, time, memory, threads, keyLen uint32, mode int) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], time)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(mode))
	b2.Write(params[:])
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(password)))
	b2.Write(tmp[:])
	b2.Write(password)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(salt)))
	b2.Write(tmp[:])
	b2.Write(salt)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(key)))
	b2.Write(tmp[:])
	b2.Write(key)
	binary.LittleEndian.PutUint32(tmp[:], uint32(len(data)))
	b2.Write(tmp[:])
	b2.Write(data)
	b2.Sum(h0[:0])
	return h0
}

// initBlocks writes the first two blocks of each lane of B; upstream
// allocates B here.
func initBlocks(B []block, h0 *[blake2b.Size + 8]byte, memory, threads uint32) {
	var block0 [1024]byte
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 0)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+0] {
			B[j+0][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}

		binary.LittleEndian.PutUint32(h0[blake2b.Size:], 1)
		blake2bHash(block0[:], h0[:])
		for i := range B[j+1] {
			B[j+1][i] = binary.LittleEndian.Uint64(block0[i*8:])
		}
	}
}

func processBlocks(B []block, time, memory, threads uint32, mode int) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32) {
		var addresses, in, zero block
		if n == 0 && slice < syncPoints/2 { // Argon2id: data-independent addressing for the first half pass
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(time)
			in[5] = uint64(mode)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // we have already generated the first two blocks
			in[6]++
			processBlock(&addresses, &in, &zero)
			processBlock(&addresses, &addresses, &zero)
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if n == 0 && slice < syncPoints/2 {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			if n == 0 { // the block still holds a previous hash's: write it (upstream XORs into zeros)
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
		}
	}

	for n := uint32(0); n < time; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			if threads == 1 {
				processSegment(n, slice, 0)
				continue
			}
			var wg sync.WaitGroup
			for lane := uint32(0); lane < threads; lane++ {
				wg.Go(func() { processSegment(n, slice, lane) })
			}
			wg.Wait()
		}
	}
}

func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
