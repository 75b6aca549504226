package controller

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkmeta"
)

// Options configure a Controller.
type Options struct {
	BrokerID                    int32
	ZK                          *zkmeta.Client
	Logger                      logrus.FieldLogger
	DeleteTopicEnable           bool
	UncleanLeaderElectionEnable bool
	Dial                        func(ctx context.Context, network, addr string) (net.Conn, error)
	InterBrokerListener         string
	// SocketTimeout bounds one request to a broker (controller.socket.timeout.ms, 30 s).
	SocketTimeout time.Duration
	// AutoLeaderRebalance (auto.leader.rebalance.enable) moves leadership back to preferred
	// replicas every LeaderImbalanceCheckInterval when a broker leads fewer than
	// 100-LeaderImbalancePercentage percent of the partitions it prefers.
	AutoLeaderRebalance          bool
	LeaderImbalanceCheckInterval time.Duration
	LeaderImbalancePercentage    int32
}

// Controller is this broker's controller module; at most one broker's is active at a time.
type Controller struct {
	o   Options
	log logrus.FieldLogger

	events   chan func()
	stopping chan struct{}
	loopDone chan struct{}
	watchers sync.WaitGroup // watch goroutines; Stop waits for them
	stopOnce sync.Once
	started  atomic.Bool

	active atomic.Bool
	epoch  atomic.Int32

	// Owned by the event goroutine.
	shuttingDown bool // Stop began: never run for controller again
	sessCtx      context.Context
	sessCancel   context.CancelFunc
	st           *state // nil unless active
}

// New returns a stopped controller; Start runs it.
func New(o Options) *Controller {
	if o.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.WarnLevel)
		o.Logger = l
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		o.Dial = d.DialContext
	}
	if o.InterBrokerListener == "" {
		o.InterBrokerListener = "PLAINTEXT"
	}
	if o.LeaderImbalanceCheckInterval <= 0 {
		o.LeaderImbalanceCheckInterval = 300 * time.Second
	}
	c := &Controller{o: o, log: o.Logger.WithField("component", "controller"),
		events: make(chan func(), 4096), stopping: make(chan struct{}), loopDone: make(chan struct{})}
	c.sessCtx, c.sessCancel = context.WithCancel(context.Background())
	return c
}

// Start runs the event loop and takes part in the election.
func (c *Controller) Start() {
	if !c.started.CompareAndSwap(false, true) {
		return
	}
	go c.loop() // owned by c: Stop closes stopping and waits on loopDone
	c.enqueue(c.elect)
}

// Stop resigns (deleting /controller if it is ours, so another broker takes over at once) and
// stops every goroutine of the controller.
func (c *Controller) Stop() {
	c.stopOnce.Do(func() {
		if !c.started.Load() { // never started (the broker failed before): nothing runs
			close(c.stopping)
			return
		}
		done := make(chan struct{})
		c.enqueue(func() {
			c.shuttingDown = true
			if c.st != nil {
				if err := c.o.ZK.DeleteController(c.o.BrokerID); err != nil {
					c.log.WithError(err).Debug("deleting /controller on shutdown")
				}
				c.resign("shutting down")
			}
			c.sessCancel()
			close(done)
		})
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.log.Warn("controller did not finish resigning within 30s")
		}
		close(c.stopping)
		<-c.loopDone
		c.watchers.Wait()
	})
}

// OnSessionExpired resigns at once: every fenced write would fail, and the ephemeral
// /controller is gone. The broker calls it when its ZooKeeper session expires.
func (c *Controller) OnSessionExpired() {
	c.enqueue(func() {
		c.resign("zookeeper session expired")
		c.sessCancel()
	})
}

// OnSessionEstablished re-arms the /controller watch and runs the election again; the broker
// calls it after re-registering in the new session.
func (c *Controller) OnSessionEstablished() {
	c.enqueue(func() {
		c.sessCtx, c.sessCancel = context.WithCancel(context.Background())
		c.elect()
	})
}

// IsActive reports whether this broker is the active controller.
func (c *Controller) IsActive() bool { return c.active.Load() }

// Epoch is the controller epoch this broker won, or the last one it held.
func (c *Controller) Epoch() int32 { return c.epoch.Load() }

func (c *Controller) loop() {
	defer close(c.loopDone)
	for {
		select {
		case f := <-c.events:
			f()
		case <-c.stopping:
			return
		}
	}
}

func (c *Controller) enqueue(f func()) {
	select {
	case c.events <- f:
	case <-c.stopping:
	}
}

// watch enqueues f when a one-shot ZooKeeper watch fires, unless ctx (the term or the session
// it was set in) ended first. A watch dropped because the session went away is not an event.
func (c *Controller) watch(ctx context.Context, ev <-chan zk.Event, f func()) {
	if ev == nil {
		return
	}
	c.watchers.Add(1)
	go func() {
		defer c.watchers.Done()
		select {
		case e := <-ev:
			if e.Type == zk.EventNotWatching || ctx.Err() != nil {
				return
			}
			c.enqueue(f)
		case <-ctx.Done():
		case <-c.stopping:
		}
	}()
}

// later enqueues f after d (a retry), unless the controller stops first.
func (c *Controller) later(d time.Duration, f func()) {
	c.watchers.Add(1)
	go func() {
		defer c.watchers.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			c.enqueue(f)
		case <-c.stopping:
		}
	}()
}

// elect arms the /controller watch and, if nobody is controller, runs Kafka's election.
func (c *Controller) elect() {
	ci, exists, ev, err := c.o.ZK.WatchController()
	if err != nil {
		c.log.WithError(err).Warn("reading /controller; retrying")
		c.later(time.Second, c.elect)
		return
	}
	c.watch(c.sessCtx, ev, c.onControllerChange)
	if exists {
		c.log.WithField("controller", ci.BrokerID).Debug("a controller exists")
		return
	}
	c.tryElect()
}

func (c *Controller) tryElect() {
	// A broker shutting down must not win the election its own resignation triggers.
	if c.st != nil || c.shuttingDown {
		return
	}
	epoch, zkVersion, err := c.o.ZK.Elect(c.o.BrokerID)
	if errors.Is(err, zkmeta.ErrControllerMoved) {
		c.log.Debug("another broker won the controller election")
		return
	}
	if err != nil {
		c.log.WithError(err).Warn("controller election failed; retrying")
		c.later(time.Second, c.elect)
		return
	}
	c.log.WithField("epoch", epoch).Info("elected controller")
	c.onFailover(epoch, zkVersion)
}

// onControllerChange: /controller was created, changed or deleted.
func (c *Controller) onControllerChange() {
	ci, exists, ev, err := c.o.ZK.WatchController()
	if err != nil {
		c.log.WithError(err).Warn("re-reading /controller")
		c.later(time.Second, c.elect)
		return
	}
	c.watch(c.sessCtx, ev, c.onControllerChange)
	switch {
	case !exists:
		if c.st != nil {
			c.resign("/controller deleted")
		}
		c.tryElect()
	case ci.BrokerID != c.o.BrokerID && c.st != nil:
		c.resign("controller moved to broker " + itoa(ci.BrokerID))
	}
}

// resign drops every controller duty: watches of the term, broker channels, state.
func (c *Controller) resign(why string) {
	if c.st == nil {
		return
	}
	c.log.WithField("reason", why).Info("resigning as controller")
	c.st.cancel()
	for _, ch := range c.st.channels {
		ch.Stop()
	}
	c.st = nil
	c.active.Store(false)
}

// fenced checks a ZooKeeper write's error: ErrControllerMoved means a newer controller exists,
// and this one must resign at once.
func (c *Controller) fenced(err error) bool {
	if errors.Is(err, zkmeta.ErrControllerMoved) {
		c.resign("fenced by a newer controller epoch")
		return true
	}
	return false
}
