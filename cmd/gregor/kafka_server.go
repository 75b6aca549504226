package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/gregor-broker/gregor/config"
)

func init() {
	register("kafka-server-start.sh", "Kafka's kafka-server-start.sh: [-daemon] server.properties|broker.yaml [--override k=v ...]", runKafkaServerStart)
	register("kafka-server-stop.sh", "Kafka's kafka-server-stop.sh: SIGTERM (a clean, controlled shutdown) to the brokers running here", runKafkaServerStop)
}

// runKafkaServerStart runs a broker from Kafka's server.properties (or Gregor's YAML), with
// kafka-server-start.sh's --override k=v and -daemon.
func runKafkaServerStart(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Println("USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*")
		return errHelp
	}
	daemon := false
	var file string
	overrides := map[string]string{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-daemon" || a == "--daemon":
			daemon = true
		case a == "--override" || a == "-override":
			if i+1 >= len(args) {
				return usagef("--override needs property=value")
			}
			i++
			k, v, ok := strings.Cut(args[i], "=")
			if !ok {
				return usagef("--override %q is not property=value", args[i])
			}
			overrides[k] = v
		case strings.HasPrefix(a, "-"):
			return usagef("unknown option %q", a)
		case file != "":
			return usagef("one config file, not %q and %q", file, a)
		default:
			file = a
		}
	}
	if file == "" {
		return usagef("USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*")
	}
	if daemon {
		return startDaemon(args)
	}
	cfg, err := loadServerConfig(file, overrides)
	if err != nil {
		return err
	}
	return serveBroker(cfg, "", "")
}

// loadServerConfig reads a .properties file as Kafka does, or a YAML one as `gregor broker`
// does; overrides win over the file, KAFKA_* variables over both.
func loadServerConfig(file string, overrides map[string]string) (*config.Broker, error) {
	var values map[string]string
	if strings.HasSuffix(file, ".properties") {
		p, err := readProperties(file)
		if err != nil {
			return nil, err
		}
		values = p
	} else {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if len(overrides) == 0 {
			return config.Parse(data, file, os.Environ())
		}
		if err := yaml.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	for k, v := range overrides {
		values[k] = v
	}
	data, err := yaml.Marshal(values)
	if err != nil {
		return nil, err
	}
	return config.Parse(data, file, os.Environ())
}

// startDaemon starts the same command line without -daemon in a session of its own, its output
// in logs/kafkaServer.out (LOG_DIR, as Kafka's scripts), and returns.
func startDaemon(args []string) error {
	var rest []string
	for _, a := range args {
		if a != "-daemon" && a != "--daemon" {
			rest = append(rest, a)
		}
	}
	logDir := os.Getenv("LOG_DIR")
	if logDir == "" {
		logDir = "logs"
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(filepath.Join(logDir, "kafkaServer.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{"kafka-server-start.sh"}, rest...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// runKafkaServerStop sends SIGTERM to every broker process of this machine, as Kafka's script
// does to every kafka.Kafka JVM; --config limits it to the brokers started with that file.
func runKafkaServerStop(args []string) error {
	fs := newFlags("kafka-server-stop.sh", "kafka-server-stop.sh [--config FILE]")
	only := fs.String("config", "", "stop only brokers started with this config file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	pids, err := brokerProcesses(*only)
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		fmt.Println("No kafka server to stop")
		return fmt.Errorf("no broker process found")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("SIGTERM to %d: %w", pid, err)
		}
	}
	return nil
}

// brokerProcesses lists the processes running `gregor broker` or `gregor kafka-server-start.sh`
// (not their -daemon launchers, which have exited), optionally only those of one config file.
func brokerProcesses(configFile string) ([]int, error) {
	var abs string
	if configFile != "" {
		var err error
		if abs, err = filepath.Abs(configFile); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if len(argv) < 2 || filepath.Base(argv[0]) != "gregor" && !strings.HasPrefix(filepath.Base(argv[0]), "gregor") {
			continue
		}
		if argv[1] != "broker" && argv[1] != "kafka-server-start.sh" {
			continue
		}
		if abs != "" && !mentionsFile(argv[2:], abs, pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// mentionsFile reports whether one of the arguments names file, relative ones resolved in the
// process's working directory.
func mentionsFile(args []string, file string, pid int) bool {
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	for _, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "--config="), "-config=")
		if !filepath.IsAbs(a) {
			a = filepath.Join(cwd, a)
		}
		if filepath.Clean(a) == file {
			return true
		}
	}
	return false
}
