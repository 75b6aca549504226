package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gregor-broker/gregor/broker"
	"github.com/gregor-broker/gregor/config"
)

func init() {
	register("broker", "run a broker: gregor broker --config config/broker-1.yaml", runBroker)
}

func runBroker(args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	path := fs.String("config", "", "YAML config file with Kafka property names (required)")
	format := fs.String("log-format", "", "text or json (default: gregor.log.format, else text)")
	level := fs.String("log-level", "", "debug, info, warn, error (default: gregor.log.level, else info)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("--config is required")
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	if *format == "" {
		*format = cfg.LogFormat
	}
	if *level == "" {
		*level = cfg.LogLevel
	}
	log, err := newLogger(*format, *level)
	if err != nil {
		return err
	}
	b, err := broker.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
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
