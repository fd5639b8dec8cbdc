// Command hello is a test program for standin's bundle tests: built with
// cgo it is dynamically linked (through the net package), without it
// static.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	_, err := net.LookupHost("localhost")
	fmt.Println("hello from", os.Args[1:], err == nil)
}
