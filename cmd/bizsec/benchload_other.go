//go:build !linux

package main

// runLoad is runLoadNet where there is no epoll.
func runLoad(spec loadSpec) loadOut { return runLoadNet(spec) }
