package netfault_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/netfault"
)

// echo serves a line echo on loopback.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					c.Write(append(s.Bytes(), '\n'))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRelay: bytes flow through; a black hole holds them (the reader
// times out, the connection stays open) and delivers them when it ends; a
// reset ends the connection.
func TestRelay(t *testing.T) {
	r := netfault.Start(t, echo(t))
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := bufio.NewReader(c)
	roundTrip := func(line string, within time.Duration) (string, error) {
		c.SetReadDeadline(time.Now().Add(within))
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			return "", err
		}
		return in.ReadString('\n')
	}
	if got, err := roundTrip("one", 5*time.Second); err != nil || got != "one\n" {
		t.Fatalf("through the relay: %q, %v", got, err)
	}
	r.Blackhole(true)
	if got, err := roundTrip("two", 200*time.Millisecond); err == nil {
		t.Fatalf("through a black hole: %q", got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("a black hole must look like silence, not an error: %v", err)
	}
	r.Blackhole(false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := in.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("after the black hole: %q, %v; want the held line", got, err)
	}
	r.Reset()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := in.ReadString('\n'); err == nil {
		t.Fatal("the connection outlived a reset")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a reset must end the connection, not stall it")
	}
}
