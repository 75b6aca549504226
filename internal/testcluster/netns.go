package testcluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netLab puts every broker in a network namespace of its own, joined to the host by a veth
// pair on one bridge, so that a test can cut one broker off the network for real — its
// ZooKeeper session, the controller's requests and the other brokers' fetches all stop at the
// link — and heal it again. ZooKeeper and the test's clients stay on the host, on the bridge.
//
//	host:  bridge <br> 10.A.B.1/24 (ZooKeeper listens here)
//	         ├── veth <tag>h<id> ── netns <tag>-<id>: eth0 10.A.B.(10+id)/24 (broker id)
//
// It needs root and iproute2 (`ip`); a machine without them fails the test — it is never
// skipped. Everything it creates is removed in t.Cleanup.
type netLab struct {
	t      testing.TB
	tag    string // short random name prefix (interface names are at most 15 bytes)
	bridge string
	prefix string // "10.A.B."
	rule   []string
}

func newNetLab(t testing.TB) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("testcluster: network namespaces need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("testcluster: `ip` not found: apt-get install -y iproute2 (scripts/test.sh does)")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	a, _ := rand.Int(rand.Reader, big.NewInt(200))
	c, _ := rand.Int(rand.Reader, big.NewInt(250))
	lab := &netLab{t: t, tag: "g" + hex.EncodeToString(b[:]),
		prefix: fmt.Sprintf("10.%d.%d.", 20+a.Int64(), 1+c.Int64())}
	lab.bridge = lab.tag + "br"
	t.Cleanup(lab.teardown)
	lab.run("ip", "link", "add", lab.bridge, "type", "bridge")
	lab.run("ip", "addr", "add", lab.prefix+"1/24", "dev", lab.bridge)
	lab.run("ip", "link", "set", lab.bridge, "up")
	// Where bridged traffic passes iptables (br_netfilter, as on Docker hosts whose FORWARD
	// policy is DROP), let our bridge's own traffic through.
	if data, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil &&
		strings.TrimSpace(string(data)) == "1" {
		if _, err := exec.LookPath("iptables"); err == nil {
			lab.rule = []string{"FORWARD", "-i", lab.bridge, "-o", lab.bridge, "-j", "ACCEPT"}
			lab.run("iptables", append([]string{"-I"}, lab.rule...)...)
		}
	}
	return lab
}

// HostIP is the host's address on the bridge.
func (l *netLab) hostIP() string { return l.prefix + "1" }

func (l *netLab) ns(id int32) string       { return fmt.Sprintf("%s-%d", l.tag, id) }
func (l *netLab) veth(id int32) string     { return fmt.Sprintf("%sh%d", l.tag, id) }
func (l *netLab) brokerIP(id int32) string { return fmt.Sprintf("%s%d", l.prefix, 10+id) }

// addBroker creates broker id's namespace and link.
func (l *netLab) addBroker(id int32) {
	ns, host, peer := l.ns(id), l.veth(id), fmt.Sprintf("%sp%d", l.tag, id)
	l.run("ip", "netns", "add", ns)
	l.run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	l.run("ip", "link", "set", peer, "netns", ns)
	l.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	l.run("ip", "netns", "exec", ns, "ip", "link", "set", peer, "name", "eth0")
	l.run("ip", "netns", "exec", ns, "ip", "addr", "add", l.brokerIP(id)+"/24", "dev", "eth0")
	l.run("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
	l.run("ip", "link", "set", host, "master", l.bridge)
	l.run("ip", "link", "set", host, "up")
}

// wrap returns the command line that runs argv inside broker id's namespace. `ip netns exec`
// execs the program in place, so the process the harness signals is the broker itself.
func (l *netLab) wrap(id int32, argv []string) []string {
	return append([]string{"ip", "netns", "exec", l.ns(id)}, argv...)
}

// setLink brings broker id's link to the bridge up or down.
func (l *netLab) setLink(id int32, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	l.run("ip", "link", "set", l.veth(id), state)
}

func (l *netLab) run(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("testcluster: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (l *netLab) teardown() {
	if l.rule != nil {
		_ = exec.Command("iptables", append([]string{"-D"}, l.rule...)...).Run()
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], l.tag+"-") {
			_ = exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
	_ = exec.Command("ip", "link", "del", l.bridge).Run()
}
