package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/gregor-broker/gregor/broker"
	"github.com/gregor-broker/gregor/config"
)

func init() {
	register("broker", "run a broker: gregor broker --config config/broker-1.yaml", runBroker)
}

func runBroker(args []string) error {
	fs := newFlags("broker", "gregor broker --config config/broker-1.yaml")
	path := fs.String("config", "", "YAML config file with Kafka property names (required)")
	format := fs.String("log-format", "", "text or json (default: gregor.log.format, else text)")
	level := fs.String("log-level", "", "debug, info, warn, error (default: gregor.log.level, else info)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *path == "" {
		return usagef("--config is required")
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	return serveBroker(cfg, *format, *level)
}

// serveBroker runs a broker until SIGINT or SIGTERM, then shuts it down cleanly.
func serveBroker(cfg *config.Broker, format, level string) error {
	if format == "" {
		format = cfg.LogFormat
	}
	if level == "" {
		level = cfg.LogLevel
	}
	log, err := newLogger(format, level)
	if err != nil {
		return err
	}
	b, err := broker.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if dir := os.Getenv("GREGOR_CPUPROFILE_DIR"); dir != "" {
		// For benchmark runs (docs/benchmarks.md): a CPU profile of the whole run, written when
		// the broker shuts down cleanly; a SIGKILLed broker leaves a partial file.
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-broker-%d.pprof", cfg.BrokerID)))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("broker %d: %w", cfg.BrokerID, err)
	}
	go func() { // owned by main: ends with the process
		<-ctx.Done()
		log.WithField("broker", cfg.BrokerID).Info("signal received: shutting down cleanly")
		if err := b.Shutdown(); err != nil {
			log.WithError(err).Error("shutdown")
		}
	}()
	return b.Wait()
}
