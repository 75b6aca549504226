// Command gregor-floor runs internal/benchfloor, the framing-only Kafka server that
// scripts/bench.sh measures the broker against. Not a broker: nothing is validated, replicated
// or made durable.
//
//	gregor-floor -listen 127.0.0.1:9192 -dir /tmp/floor -partitions 3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/gregor-broker/gregor/internal/benchfloor"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9192", "address to listen on (also the advertised address)")
	dir := flag.String("dir", "", "directory for the partition files (required)")
	partitions := flag.Int("partitions", 3, "partitions of every topic")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until stopped")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gregor-floor:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gregor-floor: -dir is required")
		os.Exit(2)
	}
	s, err := benchfloor.New(*listen, *dir, int32(*partitions))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gregor-floor:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		s.Close()
	}()
	fmt.Println("listening on", s.Addr())
	if err := s.Serve(); err != nil {
		fmt.Fprintln(os.Stderr, "gregor-floor:", err)
	}
}
