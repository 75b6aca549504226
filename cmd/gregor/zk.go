package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

func init() {
	register("zk", "read ZooKeeper like zkCli.sh: gregor zk [--server h:p] ls|get|wait PATH", runZK)
}

// runZK is a small zkCli: ls and get print what zkCli prints, and wait blocks until a znode
// exists (scripts/cluster.sh uses it to return only once brokers are registered).
func runZK(args []string) error {
	fs := newFlags("zk", "gregor zk [--server h:p] ls|get|wait PATH")
	server := fs.String("server", defaultZooKeeper, "ZooKeeper host:port ($GREGOR_ZOOKEEPER)")
	timeout := fs.Duration("timeout", 30*time.Second, "for wait: how long to wait")
	for _, a := range args {
		if isHelp(a) && a != "help" { // gregor zk ls -h: help, not a path named -h
			return parseFlags(fs, []string{"-h"})
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("want a command and a path: gregor zk [--server h:p] ls|get|wait PATH")
	}
	switch fs.Arg(0) {
	case "ls", "get", "wait":
	default:
		return usagef("unknown zk command %q: ls, get or wait", fs.Arg(0))
	}
	conn, ev, err := zk.Connect(strings.Split(*server, ","), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.After(10 * time.Second)
	for connected := false; !connected; {
		select {
		case e := <-ev:
			connected = e.State == zk.StateHasSession
		case <-deadline:
			return fmt.Errorf("no ZooKeeper session with %s", *server)
		}
	}
	path := fs.Arg(1)
	switch fs.Arg(0) {
	case "ls":
		children, _, err := conn.Children(path)
		if err != nil {
			return fmt.Errorf("ls %s: %w", path, err)
		}
		fmt.Printf("[%s]\n", strings.Join(children, ", "))
	case "get":
		data, _, err := conn.Get(path)
		if err != nil {
			return fmt.Errorf("get %s: %w", path, err)
		}
		if data == nil {
			fmt.Println("null")
		} else {
			fmt.Println(string(data))
		}
	case "wait":
		end := time.After(*timeout)
		for {
			ok, _, w, err := conn.ExistsW(path)
			if err != nil {
				return fmt.Errorf("exists %s: %w", path, err)
			}
			if ok {
				return nil
			}
			select {
			case <-w:
			case <-end:
				return fmt.Errorf("%s did not appear within %v", path, *timeout)
			}
		}
	default:
		return fmt.Errorf("unknown zk command %q", fs.Arg(0))
	}
	return nil
}
